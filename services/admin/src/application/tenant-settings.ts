import { AppError, defaultTenantSettings, notFound, validationFailed, type LimitPair } from "@tessera/platform";
import { applySettingsChanges, snapshotOf, type StoredSettings } from "../domain/settings.ts";
import type { Actor, ModelRef, ProviderInput, ProviderRecord, UserFields } from "../domain/ports.ts";
import { auditRecorder, authorization, type AdminDependencies } from "./dependencies.ts";

export interface SettingsView {
  defaultLimits: LimitPair;
  premiumLimits: LimitPair;
  timeZone: string;
  minPasswordLength: number;
  selfRegistration: boolean;
  providers: ProviderRecord[];
  models: string[];
  availableModels: ModelRef[];
  sharedUpstream: boolean;
  /** Sign-in providers offered now (enabled by the tenant and configured for the installation). */
  signInProviders: string[];
  /** Whether a provider-verified email links an existing account by itself; null: the installation's default. */
  autoLinkVerifiedEmail: boolean | null;
  /** The most tokens one answer may take; null: the installation's default. */
  maxCompletionTokens: number | null;
  updatedAt: string | null;
}

export interface SettingsUpdate {
  defaultLimits?: LimitPair | undefined;
  premiumLimits?: LimitPair | undefined;
  timeZone?: string | undefined;
  minPasswordLength?: number | undefined;
  selfRegistration?: boolean | undefined;
  /** The complete list of the tenant's own providers: new ones have no id; missing ones are deleted. */
  providers?: ProviderInput[] | undefined;
  models?: string[] | undefined;
  signInProviders?: string[] | undefined;
  autoLinkVerifiedEmail?: boolean | undefined;
  /** null: back to the installation's default. */
  maxCompletionTokens?: number | null | undefined;
}

const uniqueModels = (providers: ProviderRecord[]): ModelRef[] => {
  const seen = new Set<string>();
  return providers.flatMap((provider) => provider.models).filter((model) => !seen.has(model.id) && (seen.add(model.id), true));
};

/** A provider as the audit log keeps it: no keys, only their count and last four characters. */
const providerAudit = (provider: ProviderRecord | undefined) =>
  provider ? { name: provider.name, baseUrl: provider.baseUrl, models: provider.models.map((model) => model.id), keys: provider.keys } : null;

/** Tenant settings: the admin service's own section, identity's sign-in policy and chat's providers, as one. */
export function tenantSettings<User extends UserFields, D, S, M>(deps: AdminDependencies<User, D, S, M>) {
  const { requireAdmin } = authorization(deps.identity);
  const record = auditRecorder(deps);

  const stored = async (tenantId: string): Promise<StoredSettings> => (await deps.settings.get(tenantId)) ?? { ...defaultTenantSettings(tenantId), updatedAt: null };

  const save = async (settings: StoredSettings) => {
    await deps.settings.save(settings);
    await deps.publisher.publish(snapshotOf(settings));
  };

  const view = async (actor: Actor): Promise<SettingsView> => {
    const [own, policy, providers] = await Promise.all([stored(actor.tenantId), deps.identity.tenantPolicy(actor.tenantId), deps.providers.list(actor)]);
    const signInProviders = await deps.identity.signInProviders(actor.tenantId);
    return {
      defaultLimits: own.defaultLimits,
      premiumLimits: own.premiumLimits,
      timeZone: own.timeZone,
      minPasswordLength: policy.minPasswordLength,
      selfRegistration: policy.selfRegistration,
      providers: providers.filter((provider) => provider.origin === "admin"),
      models: own.models,
      availableModels: uniqueModels(providers),
      sharedUpstream: own.sharedUpstream,
      signInProviders,
      autoLinkVerifiedEmail: own.autoLinkVerifiedEmail,
      maxCompletionTokens: own.maxCompletionTokens,
      updatedAt: own.updatedAt?.toISOString() ?? null,
    };
  };

  const auditSection = (settings: SettingsView) => ({
    defaultLimits: settings.defaultLimits,
    premiumLimits: settings.premiumLimits,
    timeZone: settings.timeZone,
    minPasswordLength: settings.minPasswordLength,
    selfRegistration: settings.selfRegistration,
    models: settings.models,
    signInProviders: settings.signInProviders,
    autoLinkVerifiedEmail: settings.autoLinkVerifiedEmail,
    maxCompletionTokens: settings.maxCompletionTokens,
  });

  /** Creates, updates and deletes providers so the tenant's own ones are exactly the given list. */
  const replaceProviders = async (actor: Actor, current: ProviderRecord[], wanted: ProviderInput[]) => {
    const own = current.filter((provider) => provider.origin === "admin");
    const unknown = wanted.findIndex((provider) => provider.id && !own.some((existing) => existing.id === provider.id));
    if (unknown >= 0) throw validationFailed([{ field: `providers.${unknown}.id`, message: "No provider of this tenant has this id." }]);
    for (const [index, input] of wanted.entries()) {
      const before = own.find((existing) => existing.id === input.id);
      const unchanged =
        before &&
        input.addKeys.length === 0 &&
        input.removeKeyIds.length === 0 &&
        before.name === input.name &&
        before.baseUrl === input.baseUrl.replace(/\/+$/, "") &&
        JSON.stringify(before.models) === JSON.stringify(input.models.map((model) => ({ id: model.id, name: model.name || model.id })));
      if (unchanged) continue;
      const after = await deps.providers.save(actor, input).catch((error: unknown) => {
        // Chat names the provider's fields; the settings body has them under providers.<index>.
        if (error instanceof AppError && error.status === 400 && error.errors) throw validationFailed(error.errors.map((problem) => ({ ...problem, field: `providers.${index}.${problem.field}` })), error.message);
        throw error;
      });
      await record(actor, actor.tenantId, { action: before ? "provider.update" : "provider.create", targetType: "provider", targetId: after.id, before: providerAudit(before), after: providerAudit(after) });
    }
    for (const gone of own.filter((existing) => !wanted.some((input) => input.id === existing.id))) {
      await deps.providers.delete(actor, gone.id);
      await record(actor, actor.tenantId, { action: "provider.delete", targetType: "provider", targetId: gone.id, before: providerAudit(gone), after: null });
    }
  };

  return {
    async getSettings(actor: Actor): Promise<SettingsView> {
      requireAdmin(actor);
      return view(actor);
    },

    async updateSettings(actor: Actor, changes: SettingsUpdate): Promise<SettingsView> {
      requireAdmin(actor);
      const before = await view(actor);
      if (changes.providers) await replaceProviders(actor, await deps.providers.list(actor), changes.providers);
      const available = changes.models ? uniqueModels(await deps.providers.list(actor)).map((model) => model.id) : null;
      const current = await stored(actor.tenantId);
      const next = applySettingsChanges(current, { defaultLimits: changes.defaultLimits, premiumLimits: changes.premiumLimits, timeZone: changes.timeZone, models: changes.models, signInProviders: changes.signInProviders, autoLinkVerifiedEmail: changes.autoLinkVerifiedEmail, maxCompletionTokens: changes.maxCompletionTokens }, available, deps.clock.now());
      const policyChanged = changes.minPasswordLength !== undefined || changes.selfRegistration !== undefined;
      if (policyChanged) await deps.identity.updateTenantPolicy(actor.tenantId, { minPasswordLength: changes.minPasswordLength, selfRegistration: changes.selfRegistration });
      const ownChanged = changes.defaultLimits || changes.premiumLimits || changes.timeZone !== undefined || changes.models || changes.signInProviders || changes.autoLinkVerifiedEmail !== undefined || changes.maxCompletionTokens !== undefined;
      if (ownChanged) await save(next);
      const after = await view(actor);
      if (ownChanged || policyChanged) {
        await record(actor, actor.tenantId, { action: "settings.update", targetType: "tenant", targetId: actor.tenantId, before: auditSection(before), after: auditSection(after) });
      }
      return after;
    },

    /** For other services (no caller): what they apply to the tenant's requests; published again when Redis takes it. */
    async snapshot(tenantId: string) {
      if (!tenantId) throw notFound("tenant");
      const settings = snapshotOf(await stored(tenantId));
      await deps.publisher.publish(settings).catch(() => undefined);
      return settings;
    },

    /** The operator's part: time zone and the shared upstream grant of any tenant. */
    async operatorSettings(tenantId: string) {
      return stored(tenantId);
    },

    async saveOperatorSettings(tenantId: string, changes: { timeZone?: string | undefined; sharedUpstream?: boolean | undefined }) {
      const current = await stored(tenantId);
      const next = applySettingsChanges(current, changes, null, deps.clock.now());
      await save(next);
      return next;
    },
  };
}
