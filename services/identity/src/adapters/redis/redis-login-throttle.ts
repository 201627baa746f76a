import { createHash } from "node:crypto";
import { unavailable, type Redis } from "@tessera/platform";
import type { LoginThrottle } from "../../domain/ports.ts";

export interface ThrottleLimits {
  /** Failures allowed per account within the window. */
  perAccount: number;
  /** Failures allowed per client IP within the window. */
  perIp: number;
  windowSeconds: number;
}

/** Fixed-window failure counters in Redis; a tripped key answers with the time left in its window. */
export function createRedisLoginThrottle(redis: Redis, prefix: string, limits: ThrottleLimits): LoginThrottle {
  // Keys hash the login so that emails do not sit in Redis in clear text.
  const keyOf = (key: string) => `${prefix}login-fail:${createHash("sha256").update(key).digest("base64url")}`;
  const limitOf = (key: string) => (key.startsWith("ip:") ? limits.perIp : limits.perAccount);
  return {
    async retryAfterSeconds(keys) {
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.get(keyOf(key)).ttl(keyOf(key));
      // Without its counters the throttle cannot protect sign-in: refuse (503) rather than guess.
      const results = await pipeline.exec().catch((error: unknown) => {
        throw unavailable("Sign-in", error);
      }) ?? [];
      let wait = 0;
      keys.forEach((key, index) => {
        const count = Number(results[index * 2]?.[1] ?? 0);
        const ttl = Number(results[index * 2 + 1]?.[1] ?? 0);
        if (count >= limitOf(key)) wait = Math.max(wait, ttl > 0 ? ttl : limits.windowSeconds);
      });
      return wait;
    },
    async recordFailure(keys) {
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.incr(keyOf(key)).expire(keyOf(key), limits.windowSeconds, "NX");
      await pipeline.exec();
    },
    async reset(keys) {
      await redis.del(...keys.map(keyOf));
    },
  };
}
