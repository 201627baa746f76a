import { commonServiceEnv, defaultPorts, env, keyringEnv, parseConfig, serviceAddressEnv, z } from "@tessera/platform";

const parsed = parseConfig("chat", {
  ...commonServiceEnv,
  MONGO_URL: env.mongoUrl,
  AMQP_URL: env.amqpUrl,
  // Tenant settings (shared-upstream grant, models offered) are read from Redis on every request;
  // the platform cache hears its invalidation broadcasts (users, models) there too.
  REDIS_URL: env.redisUrl,
  ADMIN_GRPC_ADDRESS: serviceAddressEnv("admin"),
  // Prefix of exchange and queue names (isolates installations or test runs sharing a broker).
  AMQP_NAME_PREFIX: z.string().default(""),
  CHAT_GRPC_PORT: env.port(defaultPorts.chat.grpc),
  CHAT_PROBE_PORT: env.port(defaultPorts.chat.probe),
  SESSION_GRPC_ADDRESS: serviceAddressEnv("session"),
  QUOTA_GRPC_ADDRESS: serviceAddressEnv("quota"),
  IDENTITY_GRPC_ADDRESS: serviceAddressEnv("identity"),
  // Encrypts upstream API keys at rest (first key encrypts, all decrypt).
  SECRETS_KEYRING: keyringEnv,
  // The default tenant's upstream until an admin configures providers (SPEC §11).
  DEFAULT_LLM_BASE_URL: env.optionalString.refine(
    (value) => value === undefined || /^https?:\/\/[^/]+/.test(value),
    "must be an http(s) URL, e.g. https://api.openai.com/v1",
  ),
  DEFAULT_LLM_API_KEYS: env.list,
  DEFAULT_LLM_MODELS: env.list,
  // Upstream hosts that may be on an internal address (a LAN model server, the local demo): host
  // names, IP addresses or CIDR ranges, comma-separated. Everything else inside is refused (SSRF).
  UPSTREAM_ALLOWED_HOSTS: env.list,
  UPSTREAM_FIRST_TOKEN_TIMEOUT_MS: env.duration(30_000),
  UPSTREAM_IDLE_TIMEOUT_MS: env.duration(60_000),
  // A non-streamed /v1 answer arrives whole, so its key is judged on the whole answer (OpenAI's clients wait 10 minutes).
  UPSTREAM_ANSWER_TIMEOUT_MS: env.duration(600_000),
  UPSTREAM_KEY_COOLDOWN_MS: env.duration(30_000),
  UPSTREAM_UNAUTHORIZED_COOLDOWN_MS: env.duration(600_000),
  // The default (a tenant may set its own) of the most tokens one answer may take: reserved before it streams, caps max_tokens.
  CHAT_MAX_COMPLETION_TOKENS: z.coerce.number().int().min(1).max(1_000_000).default(4_096),
  CHAT_HISTORY_MESSAGES: z.coerce.number().int().min(0).max(200).default(20),
  // Completions (web sends and /v1) streaming in this process, from every BFF replica
  // together; past it they are refused at once with 503 and Retry-After (README "Admission at the edge").
  CHAT_MAX_COMPLETIONS_IN_FLIGHT: z.coerce.number().int().min(1).max(100_000).default(512),
  CHAT_CHECKPOINT_INTERVAL_MS: env.duration(300),
  USAGE_RELAY_INTERVAL_MS: env.duration(1_000),
  // How long a usage event may wait for the broker's confirm before it is kept in the outbox.
  USAGE_PUBLISH_TIMEOUT_MS: env.duration(2_000),
});

if (parsed.DEFAULT_LLM_BASE_URL && parsed.DEFAULT_LLM_MODELS.length === 0) {
  process.stderr.write("chat: invalid configuration\n  DEFAULT_LLM_MODELS: required with DEFAULT_LLM_BASE_URL (comma-separated model ids)\n");
  process.exit(1);
}

export const config = parsed;
