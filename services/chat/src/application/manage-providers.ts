import { conflict, notFound, requireAdmin, validationFailed, type Caller, type Clock, type FieldError } from "@tessera/platform";
import { MAX_KEYS_PER_PROVIDER, type ProviderAdministration, type ProviderSummary, type UpstreamUrlGuard } from "../domain/provider.ts";
import type { ModelInfo } from "../domain/ports.ts";

export interface SaveProviderInput {
  id: string;
  name: string;
  baseUrl: string;
  models: ModelInfo[];
  addKeys: string[];
  removeKeyIds: string[];
}

/** Admins manage their tenant's upstream providers; the one from DEFAULT_LLM_* is read-only here. */
export function providerManagement(deps: { providers: ProviderAdministration; urlGuard: UpstreamUrlGuard; clock: Clock; newId(): string }) {
  const editable = async (tenantId: string, id: string): Promise<ProviderSummary> => {
    const existing = await deps.providers.findOwn(tenantId, id);
    if (!existing) throw notFound("provider");
    if (existing.origin === "environment") throw conflict("provider_managed_by_environment", "This provider comes from DEFAULT_LLM_* and is changed there.");
    return existing;
  };
  return {
    async list(claims: Caller): Promise<ProviderSummary[]> {
      requireAdmin(claims);
      return deps.providers.listOwn(claims.tenantId);
    },
    async save(claims: Caller, input: SaveProviderInput): Promise<ProviderSummary> {
      requireAdmin(claims);
      const errors: FieldError[] = [];
      const name = input.name.trim();
      if (name.length === 0 || name.length > 100) errors.push({ field: "name", message: "1-100 characters." });
      if (!/^https?:\/\/[^/\s]+/.test(input.baseUrl))
        errors.push({ field: "baseUrl", message: "An http(s) URL of an OpenAI-compatible API, e.g. https://api.openai.com/v1." });
      else {
        // Every provider write passes here: a URL reaching inside the installation is refused.
        const refusal = await deps.urlGuard.refusal(input.baseUrl);
        if (refusal) errors.push({ field: "baseUrl", message: refusal });
      }
      const models = input.models.map((model) => ({ id: model.id.trim(), name: model.name.trim() || model.id.trim() }));
      if (models.length === 0 || models.length > 50 || models.some((model) => model.id.length === 0 || model.id.length > 200))
        errors.push({ field: "models", message: "1-50 models, each with an id." });
      if (input.addKeys.some((key) => key.trim().length === 0 || key.length > 500)) errors.push({ field: "addKeys", message: "Keys must be non-empty." });
      const current = input.id ? await editable(claims.tenantId, input.id) : null;
      const kept = (current?.keys ?? []).filter((key) => !input.removeKeyIds.includes(key.id)).length;
      const total = kept + input.addKeys.length;
      if (total === 0 || total > MAX_KEYS_PER_PROVIDER) errors.push({ field: "addKeys", message: `A provider needs 1-${MAX_KEYS_PER_PROVIDER} API keys.` });
      if (errors.length > 0) throw validationFailed(errors);
      return deps.providers.save(
        {
          id: current?.id ?? deps.newId(),
          tenantId: claims.tenantId,
          name,
          baseUrl: input.baseUrl.replace(/\/+$/, ""),
          models,
          addKeys: input.addKeys.map((key) => key.trim()),
          removeKeyIds: input.removeKeyIds,
        },
        deps.clock.now(),
      );
    },
    async delete(claims: Caller, id: string): Promise<void> {
      requireAdmin(claims);
      await editable(claims.tenantId, id);
      await deps.providers.delete(claims.tenantId, id);
    },
  };
}

export type ProviderManagement = ReturnType<typeof providerManagement>;
