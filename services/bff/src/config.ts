import { commonServiceEnv, env, parseConfig, serviceAddressEnv, z } from "@tessera/platform";

export const config = parseConfig("bff", {
  ...commonServiceEnv,
  REDIS_URL: env.redisUrl,
  BFF_PORT: env.port(8080),
  PUBLIC_BASE_URL: env.httpUrl("http://localhost:8080").default("http://localhost:8080"),
  IDENTITY_GRPC_ADDRESS: serviceAddressEnv("identity"),
  SESSION_GRPC_ADDRESS: serviceAddressEnv("session"),
  CHAT_GRPC_ADDRESS: serviceAddressEnv("chat"),
  QUOTA_GRPC_ADDRESS: serviceAddressEnv("quota"),
  ADMIN_GRPC_ADDRESS: serviceAddressEnv("admin"),
  // Express "trust proxy" value: hop count, or comma-separated addresses/CIDRs of trusted proxies.
  // Empty (default): the socket address is the client IP and X-Forwarded-For is ignored.
  TRUSTED_PROXIES: z.string().default(""),
  WEB_BUILD_DIR: z.string().default(new URL("../../../web/build", import.meta.url).pathname),
  MAX_ACCOUNTS_PER_BROWSER: z.coerce.number().int().min(1).max(20).default(5),
  // Completions (/v1/chat/completions and the web send) in flight in this process; past it they are
  // answered 503 with Retry-After at once instead of queueing (README "Admission at the edge").
  BFF_MAX_COMPLETIONS_IN_FLIGHT: z.coerce.number().int().min(1).max(100_000).default(256),
});
