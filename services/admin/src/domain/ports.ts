import type { TenantSettingsSnapshot } from "@tessera/platform";
import type { AuditFilter, AuditPosition, AuditRecord } from "./audit.ts";
import type { StoredSettings } from "./settings.ts";

/** Who acts (a verified signed-in user) and the public request; the credential stays in the gRPC adapters. */
export interface Actor {
  userId: string;
  tenantId: string;
  role: "user" | "admin";
  requestId: string;
}

export interface SettingsRepository {
  get(tenantId: string): Promise<StoredSettings | null>;
  save(settings: StoredSettings): Promise<void>;
}

/** Makes settings visible to every process of every service (Redis). */
export interface SettingsPublisher {
  publish(snapshot: TenantSettingsSnapshot): Promise<void>;
}

export interface AuditLog {
  append(record: AuditRecord): Promise<void>;
  /** Newest first, older than the position when one is given. */
  page(scope: string, filter: AuditFilter, limit: number, position: AuditPosition | null): Promise<AuditRecord[]>;
}

/** The fields the admin use cases read of a user; the rest passes through as it is. */
export interface UserFields {
  id: string;
  role: string;
  status: string;
}

export interface UserChanges {
  role?: string | undefined;
  status?: string | undefined;
  premiumUntil?: string | null | undefined;
  trustLevel?: number | undefined;
  maxMessagesPerDay?: number | null | undefined;
  maxTokensPerDay?: number | null | undefined;
  maxChats?: number | undefined;
}

export interface TenantRecord {
  id: string;
  slug: string;
  name: string;
  domains: string[];
  minPasswordLength: number;
  selfRegistration: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface TenantInput {
  slug: string;
  name: string;
  domains: string[];
}

export interface TenantChanges {
  name?: string | undefined;
  domains?: string[] | undefined;
  minPasswordLength?: number | undefined;
}

/** Identity: users, tenants and their sign-in policy (identity owns them). */
export interface IdentityPort<User extends UserFields> {
  platformRoleOf(tenantId: string, userId: string): Promise<string>;
  listUsers(actor: Actor, query: { query: string; status: string; role: string; limit: number; cursor: string }): Promise<{ items: User[]; nextCursor: string }>;
  getUser(actor: Actor, userId: string): Promise<User>;
  updateUser(actor: Actor, userId: string, changes: UserChanges): Promise<User>;
  tenantPolicy(tenantId: string): Promise<TenantRecord>;
  /** Ids of the sign-in providers the tenant offers now (enabled and configured). */
  signInProviders(tenantId: string): Promise<string[]>;
  updateTenantPolicy(tenantId: string, changes: { minPasswordLength?: number | undefined; selfRegistration?: boolean | undefined }): Promise<TenantRecord>;
  listTenants(actor: Actor, limit: number, cursor: string): Promise<{ items: TenantRecord[]; nextCursor: string }>;
  getTenant(actor: Actor, id: string): Promise<TenantRecord>;
  createTenant(actor: Actor, input: TenantInput): Promise<TenantRecord>;
  updateTenant(actor: Actor, id: string, changes: TenantChanges): Promise<TenantRecord>;
}

/** Quota: the usage reads admins see (passed through as quota answers them). */
export interface UsagePort<DayUsage, Series, ModelUsage> {
  dayUsage(actor: Actor, request: { date: string; limit: number; cursor: string }): Promise<DayUsage>;
  userSeries(actor: Actor, request: { userId: string; from: string; to: string }): Promise<Series>;
  modelUsage(actor: Actor, request: { from: string; to: string; limit: number; cursor: string }): Promise<ModelUsage>;
}

export interface ModelRef {
  id: string;
  name: string;
}

export interface ProviderRecord {
  id: string;
  name: string;
  baseUrl: string;
  models: ModelRef[];
  keys: Array<{ id: string; last4: string }>;
  origin: "admin" | "environment";
  updatedAt: string;
}

export interface ProviderInput {
  id: string;
  name: string;
  baseUrl: string;
  models: ModelRef[];
  addKeys: string[];
  removeKeyIds: string[];
}

/** Chat: the tenant's upstream providers (chat owns them and their encrypted keys). */
export interface ProviderPort {
  list(actor: Actor): Promise<ProviderRecord[]>;
  save(actor: Actor, input: ProviderInput): Promise<ProviderRecord>;
  delete(actor: Actor, id: string): Promise<void>;
}
