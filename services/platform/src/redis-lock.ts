import { unavailable } from "./errors.ts";
import { randomSecret } from "./ids.ts";
import type { Redis } from "./redis.ts";

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface RedisLockOptions {
  /** How long the lock is held at most; a crashed holder frees it after this. Longer than any task takes. */
  leaseMs: number;
  /** How long to wait for it before giving up with a 503. */
  waitMs: number;
  /** Names the thing in the 503 ("Administration", "Your session"). */
  what: string;
}

/**
 * Runs `task` while holding a lock in Redis (SET NX PX with an owner token, released only by its
 * owner), so one read-then-write settles across replicas. Waiting polls with jitter; Redis down or
 * the wait running out is a 503.
 */
export async function withRedisLock<T>(redis: Redis, key: string, options: RedisLockOptions, task: () => Promise<T>): Promise<T> {
  const owner = randomSecret(16);
  const deadline = Date.now() + options.waitMs;
  for (;;) {
    const acquired = await redis.set(key, owner, "PX", options.leaseMs, "NX").catch((error: unknown) => {
      throw unavailable(options.what, error);
    });
    if (acquired === "OK") break;
    if (Date.now() > deadline) throw unavailable(`${options.what} (another change is in progress)`);
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
  }
  try {
    return await task();
  } finally {
    await redis.eval(RELEASE, 1, key, owner).catch(() => undefined);
  }
}
