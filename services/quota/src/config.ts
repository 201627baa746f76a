import { commonServiceEnv, defaultPorts, env, parseConfig, serviceAddressEnv } from "@tessera/platform";

export const config = parseConfig("quota", {
  ...commonServiceEnv,
  MONGO_URL: env.mongoUrl,
  REDIS_URL: env.redisUrl,
  AMQP_URL: env.amqpUrl,
  QUOTA_GRPC_PORT: env.port(defaultPorts.quota.grpc),
  QUOTA_PROBE_PORT: env.port(defaultPorts.quota.probe),
  IDENTITY_GRPC_ADDRESS: serviceAddressEnv("identity"),
});
