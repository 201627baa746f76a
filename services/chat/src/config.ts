import { commonServiceEnv, defaultPorts, env, parseConfig, serviceAddressEnv } from "@tessera/platform";

export const config = parseConfig("chat", {
  ...commonServiceEnv,
  MONGO_URL: env.mongoUrl,
  AMQP_URL: env.amqpUrl,
  CHAT_GRPC_PORT: env.port(defaultPorts.chat.grpc),
  CHAT_PROBE_PORT: env.port(defaultPorts.chat.probe),
  SESSION_GRPC_ADDRESS: serviceAddressEnv("session"),
  QUOTA_GRPC_ADDRESS: serviceAddressEnv("quota"),
  IDENTITY_GRPC_ADDRESS: serviceAddressEnv("identity"),
});
