import { randomSecret, unavailable, type Redis } from "@tessera/platform";
import type { TenantLock } from "../../domain/ports.ts";

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
/** Longer than any admin change takes; a crashed holder frees the lock after this. */
const LEASE_MS = 10_000;
const WAIT_MS = 5_000;

/**
 * A per-tenant lock in Redis (SET NX PX with an owner token, released only by its owner), so that
 * the "at least one active admin" and "never the last way in" rules hold when two changes race on different replicas:
 * FerretDB cannot settle that read-then-write by itself.
 */
export function createRedisTenantLock(redis: Redis, prefix: string): TenantLock {
  return {
    async withLock(tenantId, task) {
      const key = `${prefix}tenant-admin-lock:${tenantId}`;
      const owner = randomSecret(16);
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const acquired = await redis.set(key, owner, "PX", LEASE_MS, "NX").catch((error: unknown) => {
          throw unavailable("Administration", error);
        });
        if (acquired === "OK") break;
        if (Date.now() > deadline) throw unavailable("Administration (another change is in progress)");
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
      }
      try {
        return await task();
      } finally {
        await redis.eval(RELEASE, 1, key, owner).catch(() => undefined);
      }
    },
  };
}
