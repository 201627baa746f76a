import { AppError } from "@tessera/platform";
import type { ModelCatalog, ModelInfo } from "../domain/ports.ts";

export async function listModels(models: ModelCatalog, tenantId: string): Promise<ModelInfo[]> {
  return models.modelsFor(tenantId);
}

/** The model to use: the one asked for when the tenant offers it, else the tenant's first. */
export async function resolveModel(models: ModelCatalog, tenantId: string, requested: string | undefined, field = "model"): Promise<string> {
  const available = await models.modelsFor(tenantId);
  if (requested) {
    if (!available.some((model) => model.id === requested)) {
      throw new AppError("model_not_found", 404, `The model "${requested}" is not offered here.`, {
        errors: [{ field, message: "Unknown model; see GET /api/v1/models." }],
      });
    }
    return requested;
  }
  const first = available[0];
  if (!first) throw new AppError("no_models", 503, "No language model is configured for this organisation.", { expose: true });
  return first.id;
}
