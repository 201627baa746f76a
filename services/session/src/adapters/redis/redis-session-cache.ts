import type { Redis } from "@tessera/platform";
import type { SessionCache } from "../../domain/ports.ts";
import { ACCESS_TOKEN_TTL_SECONDS } from "../../domain/session.ts";

/** Liveness answers; the database stays the source of truth for revocation. */
export function createRedisSessionCache(redis: Redis, prefix: string): SessionCache {
  const liveKey = (id: string) => `${prefix}session:live:${id}`;
  return {
    async setLive(id, live) {
      // A revoked answer must outlive every access token of the session.
      await redis.set(liveKey(id), live ? "1" : "0", "EX", live ? 60 : ACCESS_TOKEN_TTL_SECONDS + 60);
    },
    async getLive(id) {
      const value = await redis.get(liveKey(id));
      return value === null ? null : value === "1";
    },
  };
}
