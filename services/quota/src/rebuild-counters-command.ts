// `npm run rebuild-counters -w services/quota`: restores today's missing Redis counters from the
// MongoDB rollups (the service also does this at start and whenever it touches missing counters).
import { connectMongo, connectRedis, createLogger, createTenantSettingsReader, parseConfig, commonServiceEnv, env, serviceAddressEnv } from "@tessera/platform";
import { publishedTenantSettings } from "./adapters/redis/published-tenant-settings.ts";
import { createQuotaCore } from "./wiring.ts";

const config = parseConfig("quota rebuild-counters", {
  ...commonServiceEnv,
  INTERNAL_GRPC_TOKEN: env.optionalString,
  MONGO_URL: env.mongoUrl,
  REDIS_URL: env.redisUrl,
  ADMIN_GRPC_ADDRESS: serviceAddressEnv("admin"),
});
const logger = createLogger("quota-rebuild", config.LOG_LEVEL);
const mongo = await connectMongo(config.MONGO_URL, logger);
const redis = connectRedis(config.REDIS_URL, logger);
try {
  const useCases = await createQuotaCore({
    mongo: mongo.connection,
    redis: redis.redis,
    keyPrefix: config.REDIS_KEY_PREFIX,
    // Rebuilding needs no user data: it copies durable usage as it is.
    users: { get: async () => null },
    // Time zones as published; the admin service fills in what Redis lost (with the internal token).
    settings: publishedTenantSettings(
      createTenantSettingsReader({
        redis: redis.redis,
        keyPrefix: config.REDIS_KEY_PREFIX,
        admin: config.INTERNAL_GRPC_TOKEN ? { address: config.ADMIN_GRPC_ADDRESS, internalToken: config.INTERNAL_GRPC_TOKEN } : undefined,
      }),
    ),
    logger,
    quota: { failOpen: false, reservationTtlSeconds: 900 },
  });
  const result = await useCases.rebuildCounters();
  logger.info(result, "live counters rebuilt");
  process.stdout.write(`examined ${result.examined} user-days of today, restored ${result.restored}\n`);
} finally {
  await redis.close();
  await mongo.close();
}
