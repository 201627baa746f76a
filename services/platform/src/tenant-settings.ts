import { AdminServiceService, type TenantSettingsSnapshot as SnapshotMessage } from "@tessera/proto/tessera/admin/v1/admin";
import { createGrpcClient } from "./grpc.ts";
import type { Redis } from "./redis.ts";
import { unavailable } from "./errors.ts";
import type { Cache } from "./cache.ts";

/** A daily limit pair; null falls back (premium -> default -> the platform defaults). */
export interface LimitPair {
  messages: number | null;
  tokens: number | null;
}

/** The tenant settings other services apply on every request (owned by the admin service). */
export interface TenantSettingsSnapshot {
  tenantId: string;
  defaultLimits: LimitPair;
  premiumLimits: LimitPair;
  /** IANA time zone whose midnight starts a new quota day. */
  timeZone: string;
  /** Model ids offered to users; empty offers every model of the tenant's providers. */
  models: string[];
  /** The operator lets this tenant use the platform's shared upstream (DEFAULT_LLM_*). */
  sharedUpstream: boolean;
  /** Sign-in providers the tenant enables; null: the default (the default tenant all configured ones, others none). */
  signInProviders: string[] | null;
  /** Whether a provider-verified email links an existing account by itself; null: the installation's default. */
  autoLinkVerifiedEmail: boolean | null;
  /** The most tokens one answer may take (reserved before it, the cap sent to the model); null: the installation's default. */
  maxCompletionTokens: number | null;
}

export const DEFAULT_TENANT = "default";

/** The settings of a tenant nobody changed: platform defaults; only the default tenant has the shared upstream. */
export function defaultTenantSettings(tenantId: string): TenantSettingsSnapshot {
  return {
    tenantId,
    defaultLimits: { messages: null, tokens: null },
    premiumLimits: { messages: null, tokens: null },
    timeZone: "UTC",
    models: [],
    sharedUpstream: tenantId === DEFAULT_TENANT,
    signInProviders: null,
    autoLinkVerifiedEmail: null,
    maxCompletionTokens: null,
  };
}

/** The Redis key under which the admin service publishes a tenant's settings. */
export const tenantSettingsKey = (keyPrefix: string, tenantId: string) => `${keyPrefix}admin:tenant-settings:${tenantId}`;

const pair = (value: { messages?: number | undefined; tokens?: number | undefined } | undefined): LimitPair => ({
  messages: value?.messages ?? null,
  tokens: value?.tokens ?? null,
});

/** The gRPC message into the snapshot (and back), shared by the admin service and its readers. */
export const snapshotFromMessage = (message: SnapshotMessage): TenantSettingsSnapshot => ({
  tenantId: message.tenantId,
  defaultLimits: pair(message.defaultLimits),
  premiumLimits: pair(message.premiumLimits),
  timeZone: message.timeZone || "UTC",
  models: message.models,
  sharedUpstream: message.sharedUpstream,
  signInProviders: message.signInProvidersSet ? message.signInProviders : null,
  autoLinkVerifiedEmail: message.autoLinkVerifiedEmail ?? null,
  maxCompletionTokens: message.maxCompletionTokens ?? null,
});

export interface TenantSettingsReader {
  get(tenantId: string): Promise<TenantSettingsSnapshot>;
  close(): void;
}

/**
 * Reads tenant settings as the admin service publishes them in Redis, on every call (one GET),
 * so a change applies to the very next request in every process. A missing entry (never written,
 * or Redis lost it) or an unreachable Redis is asked of the admin service, which publishes it
 * again; without an admin address (offline tools) it means the defaults. Given a cache of the
 * invalidation bus's "tenantSettings" topic (which the admin service publishes on every change),
 * answers come from memory instead, exact all the same.
 */
export function createTenantSettingsReader(options: {
  redis: Redis;
  keyPrefix: string;
  admin?: { address: string; internalToken: string } | undefined;
  cache?: Cache<TenantSettingsSnapshot> | undefined;
}): TenantSettingsReader {
  const admin = options.admin
    ? createGrpcClient(AdminServiceService, {
        name: "admin",
        address: options.admin.address,
        internalToken: options.admin.internalToken,
        defaultDeadlineMs: 3_000,
      })
    : null;
  const load = async (tenantId: string): Promise<TenantSettingsSnapshot> => {
    let raw: string | null = null;
    try {
      raw = await options.redis.get(tenantSettingsKey(options.keyPrefix, tenantId));
    } catch {
      // Redis down: the admin service answers from its store (requests keep their real limits).
    }
    // Entries published before a field existed lack it: it is then the default.
    if (raw) return { signInProviders: null, autoLinkVerifiedEmail: null, maxCompletionTokens: null, ...(JSON.parse(raw) as Omit<TenantSettingsSnapshot, "signInProviders" | "autoLinkVerifiedEmail" | "maxCompletionTokens">) };
    if (!admin) return defaultTenantSettings(tenantId);
    try {
      return snapshotFromMessage(await admin.getTenantSettings({ id: tenantId }));
    } catch (error) {
      throw unavailable("Tenant settings", error);
    }
  };
  return {
    get: (tenantId) => (options.cache ? options.cache.getOrLoad(tenantId, () => load(tenantId)) : load(tenantId)),
    close: () => admin?.close(),
  };
}
