import { commonServiceEnv, defaultPorts, env, parseConfig, serviceAddressEnv, z } from "@tessera/platform";

export const config = parseConfig("quota", {
  ...commonServiceEnv,
  MONGO_URL: env.mongoUrl,
  REDIS_URL: env.redisUrl,
  AMQP_URL: env.amqpUrl,
  QUOTA_GRPC_PORT: env.port(defaultPorts.quota.grpc),
  QUOTA_PROBE_PORT: env.port(defaultPorts.quota.probe),
  IDENTITY_GRPC_ADDRESS: serviceAddressEnv("identity"),
  SESSION_GRPC_ADDRESS: serviceAddressEnv("session"),
  // Tenant settings (limits, time zone) are read from Redis; the admin service answers when they are missing there.
  ADMIN_GRPC_ADDRESS: serviceAddressEnv("admin"),
  // Prefix of the events exchange and of quota's queues, so several installations (or test runs)
  // can share one broker. Publishers of usage events must use the same prefix.
  AMQP_NAME_PREFIX: z.string().default(""),
  // What CheckAndReserve does when Redis is unreachable: "closed" refuses sends (503), "open"
  // lets them through judged by the MongoDB rollups alone. Either way a metric and a log line.
  QUOTA_REDIS_FAILURE_MODE: z.enum(["closed", "open"]).default("closed"),
  // A reservation neither settled by its usage event nor released is charged at its estimate after this.
  QUOTA_RESERVATION_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
  // How often expired reservations are looked for.
  QUOTA_EXPIRY_SWEEP_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  // Consumer tuning: see services/quota/README.md.
  QUOTA_CONSUMER_PREFETCH: z.coerce.number().int().min(1).max(65_535).default(20_000),
  QUOTA_CONSUMER_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(1_000),
  QUOTA_ROLLUP_WRITE_INTERVAL_MS: z.coerce.number().int().min(0).max(10_000).default(200),
  QUOTA_CONSUMER_BATCH_WAIT_MS: z.coerce.number().int().min(0).max(1_000).default(5),
  QUOTA_RETRY_DELAY_MS: z.coerce.number().int().min(10).max(600_000).default(5_000),
  QUOTA_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(1_000).default(10),
  QUOTA_DELIVERY_LIMIT: z.coerce.number().int().min(1).max(1_000).default(20),
});
