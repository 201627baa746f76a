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

/** A provider as admins see it: keys only by fingerprint and last four characters. */
export interface ProviderSummary {
  id: string;
  tenantId: string;
  name: string;
  baseUrl: string;
  models: ModelInfo[];
  keys: Array<{ id: string; hint: string }>;
  origin: "environment" | "admin";
  updatedAt: Date;
}

export interface ProviderChanges {
  id: string;
  tenantId: string;
  name: string;
  baseUrl: string;
  models: ModelInfo[];
  addKeys: string[];
  removeKeyIds: string[];
}

export interface ProviderAdministration {
  listOwn(tenantId: string): Promise<ProviderSummary[]>;
  findOwn(tenantId: string, id: string): Promise<ProviderSummary | null>;
  /** Creates or replaces a provider; new keys are encrypted, removed ones dropped. */
  save(changes: ProviderChanges, now: Date): Promise<ProviderSummary>;
  delete(tenantId: string, id: string): Promise<boolean>;
}

export const MAX_KEYS_PER_PROVIDER = 20;
