import { commonServiceEnv, defaultPorts, env, parseConfig, serviceAddressEnv, z } from "@tessera/platform";

export const config = parseConfig("identity", {
  ...commonServiceEnv,
  MONGO_URL: env.mongoUrl,
  REDIS_URL: env.redisUrl,
  IDENTITY_GRPC_PORT: env.port(defaultPorts.identity.grpc),
  IDENTITY_PROBE_PORT: env.port(defaultPorts.identity.probe),
  SESSION_GRPC_ADDRESS: serviceAddressEnv("session"),
  FIRST_ADMIN_EMAIL: env.optionalString,
  FIRST_ADMIN_USERNAME: env.optionalString,
  FIRST_ADMIN_PASSWORD: env.optionalString,
  OPERATOR_EMAIL: env.optionalString,
  OPERATOR_PASSWORD: env.optionalString,
  LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().positive().default(5),
  LOGIN_MAX_FAILURES_PER_IP: z.coerce.number().int().positive().default(50),
  LOGIN_THROTTLE_WINDOW_SECONDS: z.coerce.number().int().positive().default(900),
});
