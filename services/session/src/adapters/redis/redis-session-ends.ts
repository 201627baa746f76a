import type { Redis } from "@tessera/platform";
import type { SessionEnds } from "../../domain/ports.ts";

/** The sorted set of session ends (member: session id, score: end in ms), shared with the refresh store's scripts. */
export const sessionEndsKey = (prefix: string) => `${prefix}session:ends`;

/**
 * Session ends in a Redis sorted set: the purge asks for what is due (ZRANGEBYSCORE), never scans
 * the document store. "Complete" is a marker beside the set: gone with it when Redis is wiped, so
 * the stored sessions are indexed again, once.
 */
export function createRedisSessionEnds(redis: Redis, prefix: string): SessionEnds {
  const key = sessionEndsKey(prefix);
  const completeKey = `${key}:complete`;
  const scored = (entries: Array<{ id: string; at: number }>) => entries.flatMap((entry) => [entry.at, entry.id]);
  return {
    async ended(ids, at) {
      // LT: a session that ended earlier (expired) keeps its earlier end.
      if (ids.length > 0) await redis.zadd(key, "LT", ...scored(ids.map((id) => ({ id, at: at.getTime() }))));
    },
    async addMissing(entries) {
      // NX: what the set knows is newer than any stored document (rotations are written behind).
      if (entries.length > 0) await redis.zadd(key, "NX", ...scored(entries.map((entry) => ({ id: entry.id, at: entry.endsAt.getTime() }))));
    },
    due: (before, limit) => redis.zrangebyscore(key, "-inf", `(${before.getTime()}`, "LIMIT", 0, limit),
    async forget(ids) {
      if (ids.length > 0) await redis.zrem(key, ...ids);
    },
    isComplete: async () => (await redis.exists(completeKey)) === 1,
    async markComplete() {
      await redis.set(completeKey, "1");
    },
  };
}
