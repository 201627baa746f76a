import { Redis } from "ioredis";
import type { Dependency } from "./health.ts";
import type { Logger } from "./logger.ts";

export { Redis };

/** An ioredis client that reconnects forever with a capped backoff; commands fail fast while down. */
export function connectRedis(url: string, logger: Logger, name = "redis"): { redis: Redis; dependency: Dependency; close: () => Promise<void> } {
  const redis = new Redis(url, {
    lazyConnect: false,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 3_000,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
  });
  let wasReady = false;
  redis.on("ready", () => {
    if (wasReady) logger.info(`${name} reconnected`);
    wasReady = true;
  });
  redis.on("error", (error: Error) => logger.debug({ err: error.message }, `${name} connection error`));
  return {
    redis,
    dependency: {
      name,
      check: async () => {
        if (redis.status !== "ready") throw new Error(redis.status);
        await redis.ping();
      },
    },
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
