import type { Redis } from "@tessera/platform";
import type { SessionCache } from "../../domain/ports.ts";
import { ACCESS_TOKEN_TTL_SECONDS } from "../../domain/session.ts";

/** Grace-window successors and liveness answers; the database stays the source of truth. */
export function createRedisSessionCache(redis: Redis, prefix: string): SessionCache {
  const successorKey = (hash: string) => `${prefix}session:successor:${hash}`;
  const liveKey = (id: string) => `${prefix}session:live:${id}`;
  return {
    async claimSuccessor(previousHash, candidate, ttlSeconds) {
      const [[, setResult], [, stored]] = (await redis
        .multi()
        .set(successorKey(previousHash), candidate, "EX", ttlSeconds, "NX")
        .get(successorKey(previousHash))
        .exec()) as [[unknown, unknown], [unknown, string | null]];
      void setResult;
      return stored;
    },
    getSuccessor: (previousHash) => redis.get(successorKey(previousHash)),
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
