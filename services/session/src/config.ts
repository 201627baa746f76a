import { commonServiceEnv, defaultPorts, env, keyringEnv, parseConfig, serviceAddressEnv, sessionGrantSecretEnv, z } from "@tessera/platform";

export const config = parseConfig("session", {
  ...commonServiceEnv,
  MONGO_URL: env.mongoUrl,
  REDIS_URL: env.redisUrl,
  SESSION_GRPC_PORT: env.port(defaultPorts.session.grpc),
  SESSION_PROBE_PORT: env.port(defaultPorts.session.probe),
  IDENTITY_GRPC_ADDRESS: serviceAddressEnv("identity"),
  SECRETS_KEYRING: keyringEnv,
  SESSION_GRANT_SECRET: sessionGrantSecretEnv,
  SIGNING_KEY_ROTATION_DAYS: z.coerce.number().positive().default(30),
});
