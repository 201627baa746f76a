import { commonServiceEnv, defaultPorts, env, parseConfig, serviceAddressEnv } from "@tessera/platform";

export const config = parseConfig("admin", {
  ...commonServiceEnv,
  MONGO_URL: env.mongoUrl,
  REDIS_URL: env.redisUrl,
  ADMIN_GRPC_PORT: env.port(defaultPorts.admin.grpc),
  ADMIN_PROBE_PORT: env.port(defaultPorts.admin.probe),
  SESSION_GRPC_ADDRESS: serviceAddressEnv("session"),
  IDENTITY_GRPC_ADDRESS: serviceAddressEnv("identity"),
  QUOTA_GRPC_ADDRESS: serviceAddressEnv("quota"),
  CHAT_GRPC_ADDRESS: serviceAddressEnv("chat"),
});
