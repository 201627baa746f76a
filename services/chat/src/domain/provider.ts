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
  /** The tenant's own providers, and the platform's shared upstream only when the operator granted it. */
  providersFor(tenantId: string): Promise<UpstreamProvider[]>;
}

/** What the tenant's settings say about upstreams (the admin service owns them). */
export interface UpstreamPolicy {
  /** The operator lets the tenant use the platform's shared upstream (DEFAULT_LLM_*). */
  sharedUpstream: boolean;
  /** Model ids offered to users; empty offers every model of the providers. */
  models: string[];
}

/** The models a tenant offers: its providers' models, narrowed to the admin's choice when there is one. */
export function offeredModels(providers: Array<{ models: ModelInfo[] }>, policy: UpstreamPolicy): ModelInfo[] {
  const seen = new Set<string>();
  const all = providers.flatMap((provider) => provider.models).filter((model) => !seen.has(model.id) && (seen.add(model.id), true));
  return policy.models.length === 0 ? all : all.filter((model) => policy.models.includes(model.id));
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
  /** The tenant's own providers and, when granted, the shared upstream (read-only). */
  listOwn(tenantId: string): Promise<ProviderSummary[]>;
  findOwn(tenantId: string, id: string): Promise<ProviderSummary | null>;
  /** Creates or replaces a provider; new keys are encrypted, removed ones dropped. */
  save(changes: ProviderChanges, now: Date): Promise<ProviderSummary>;
  delete(tenantId: string, id: string): Promise<boolean>;
}

export const MAX_KEYS_PER_PROVIDER = 20;

/** Keeps provider URLs from reaching inside the installation's network (SSRF). */
export interface UpstreamUrlGuard {
  /** Why this base URL may not be used (resolving its host now), or null when it may. */
  refusal(baseUrl: string): Promise<string | null>;
}
