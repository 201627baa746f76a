import type { ModelInfo } from "./ports.ts";

/** An OpenAI-compatible endpoint of a tenant with its pool of API keys (decrypted only in memory). */
export interface UpstreamProvider {
  id: string;
  tenantId: string;
  baseUrl: string;
  models: ModelInfo[];
  keys: Array<{ id: string; secret: string }>;
}

export interface ProviderDirectory {
  /** The tenant's providers; a tenant without its own uses the default tenant's. */
  providersFor(tenantId: string): Promise<UpstreamProvider[]>;
}

export const DEFAULT_TENANT_ID = "default";
