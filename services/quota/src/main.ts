import { QuotaServiceService } from "@tessera/proto/tessera/quota/v1/quota";
import {
  connectAmqp,
  connectMongo,
  connectRedis,
  createInvalidationBus,
  createLogger,
  createShutdown,
  createTenantSettingsReader,
  implement,
  startServiceRuntime,
} from "@tessera/platform";
import { config } from "./config.ts";
import { createUsageEventConsumer, usageTopology } from "./adapters/amqp/usage-event-consumer.ts";
import { amqpUsageEventSink } from "./adapters/amqp/amqp-usage-event-sink.ts";
import { quotaGrpcHandlers } from "./adapters/grpc/quota-grpc-handlers.ts";
import { publishedTenantSettings } from "./adapters/redis/published-tenant-settings.ts";
import { createPlatformDirectory, createQuotaCore } from "./wiring.ts";

const logger = createLogger("quota", config.LOG_LEVEL);
const shutdown = createShutdown(logger);

const mongo = await connectMongo(config.MONGO_URL, logger);
shutdown.add("mongodb", mongo.close);
const redis = connectRedis(config.REDIS_URL, logger);
shutdown.add("redis", redis.close);
const amqp = connectAmqp(config.AMQP_URL, logger, "quota");
shutdown.add("rabbitmq", amqp.close);

const bus = createInvalidationBus({ redis: redis.redis, keyPrefix: config.REDIS_KEY_PREFIX, logger });
shutdown.add("invalidation bus", bus.close);
const directory = createPlatformDirectory({
  bus,
  identityAddress: config.IDENTITY_GRPC_ADDRESS,
  sessionAddress: config.SESSION_GRPC_ADDRESS,
  internalToken: config.INTERNAL_GRPC_TOKEN,
});
const settings = createTenantSettingsReader({
  redis: redis.redis,
  keyPrefix: config.REDIS_KEY_PREFIX,
  admin: { address: config.ADMIN_GRPC_ADDRESS, internalToken: config.INTERNAL_GRPC_TOKEN },
  cache: bus.cache("tenantSettings", { ttlMs: 5 * 60_000, maxEntries: 10_000 }),
});
shutdown.add("grpc clients", () => {
  directory.close();
  settings.close();
});

const useCases = await createQuotaCore({
  mongo: mongo.connection,
  redis: redis.redis,
  keyPrefix: config.REDIS_KEY_PREFIX,
  users: directory.users,
  settings: publishedTenantSettings(settings),
  logger,
  quota: {
    failOpen: config.QUOTA_REDIS_FAILURE_MODE === "open",
    reservationTtlSeconds: config.QUOTA_RESERVATION_TTL_SECONDS,
    rollupWriteIntervalMs: config.QUOTA_ROLLUP_WRITE_INTERVAL_MS,
  },
});

const topology = usageTopology(config.AMQP_NAME_PREFIX);
const consumer = createUsageEventConsumer({
  amqp,
  topology,
  logger,
  prefetch: config.QUOTA_CONSUMER_PREFETCH,
  batchSize: config.QUOTA_CONSUMER_BATCH_SIZE,
  batchWaitMs: config.QUOTA_CONSUMER_BATCH_WAIT_MS,
  retryDelayMs: config.QUOTA_RETRY_DELAY_MS,
  maxAttempts: config.QUOTA_MAX_ATTEMPTS,
  deliveryLimit: config.QUOTA_DELIVERY_LIMIT,
  handleBatch: useCases.recordUsageBatch,
});
// Consumption does not wait for the broker: gRPC serves (and readiness reports RabbitMQ) meanwhile.
void consumer.start().catch((error: unknown) => logger.error({ err: error }, "usage consumer set-up failed"));
// Registered after the connections, so it runs before they close: in-hand events finish first.
shutdown.add("usage consumer", consumer.stop);

// Reservations nobody settled before they expired (a chat process died mid-answer) are charged
// at their estimate, through the same event stream as every completion.
const chargeExpired = useCases.chargeExpiredReservations(amqpUsageEventSink(amqp, topology.exchange));
const expirySweep = setInterval(() => {
  chargeExpired().catch((error: unknown) => logger.warn({ err: (error as Error).message }, "expired reservations not charged yet; will retry"));
}, config.QUOTA_EXPIRY_SWEEP_MS);
expirySweep.unref();
shutdown.add("expiry sweep", () => clearInterval(expirySweep));

// Counters missing for today (Redis lost its data) are restored in the background; requests
// restore the ones they touch on their own.
void useCases.rebuildCounters().then(
  (result) => logger.info(result, "live counters checked against rollups"),
  (error: unknown) => logger.warn({ err: (error as Error).message }, "live counter rebuild skipped"),
);

await startServiceRuntime({
  name: "quota",
  logger,
  shutdown,
  grpcPort: config.QUOTA_GRPC_PORT,
  grpcHost: config.GRPC_BIND_HOST,
  probePort: config.QUOTA_PROBE_PORT,
  dependencies: [mongo.dependency, redis.dependency, amqp.dependency],
  services: [
    {
      definition: QuotaServiceService,
      implementation: implement(QuotaServiceService, quotaGrpcHandlers(useCases, directory.callers), { logger, internalToken: config.INTERNAL_GRPC_TOKEN }),
    },
  ],
});
