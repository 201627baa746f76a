import { withRedisLock, type Redis } from "@tessera/platform";
import type { TenantLock } from "../../domain/ports.ts";

/**
 * A per-tenant lock in Redis, so that the "at least one active admin" and "never the last way in"
 * rules hold when two changes race on different replicas: FerretDB cannot settle that
 * read-then-write by itself.
 */
export function createRedisTenantLock(redis: Redis, prefix: string): TenantLock {
  return {
    withLock: (tenantId, task) => withRedisLock(redis, `${prefix}tenant-admin-lock:${tenantId}`, { leaseMs: 10_000, waitMs: 5_000, what: "Administration" }, task),
  };
}
