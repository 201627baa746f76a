import type { Redis } from "@tessera/platform";
import type { GrantLedger } from "../../domain/ports.ts";

/** Grants already used, kept until they expire anyway. */
export function createRedisGrantLedger(redis: Redis, prefix: string): GrantLedger {
  return {
    async claim(grantId, expiresAt) {
      const ttlMs = Math.max(1_000, expiresAt.getTime() - Date.now() + 1_000);
      return (await redis.set(`${prefix}session:grant-used:${grantId}`, "1", "PX", ttlMs, "NX")) === "OK";
    },
  };
}
