import { ChatServiceService } from "@tessera/proto/tessera/chat/v1/chat";
import { IdentityServiceService } from "@tessera/proto/tessera/identity/v1/identity";
import { QuotaServiceService } from "@tessera/proto/tessera/quota/v1/quota";
import {
  connectAmqp,
  connectMongo,
  connectRedis,
  createAdmissionLimit,
  createGrpcClient,
  createIdentityUserLookup,
  createInvalidationBus,
  createLogger,
  createSecretBox,
  createSessionCallerVerifier,
  createShutdown,
  createTenantSettingsReader,
  implement,
  newId,
  newUuid,
  notFound,
  startServiceRuntime,
  systemClock,
} from "@tessera/platform";
import { config } from "./config.ts";
import { amqpUsagePublisher, declareUsageTopology, eventsExchange } from "./adapters/amqp/amqp-usage-publisher.ts";
import { chatGrpcHandlers } from "./adapters/grpc/chat-grpc-handlers.ts";
import { grpcQuotaGate } from "./adapters/grpc/quota-gate.ts";
import { createMongoChatRepository } from "./adapters/mongo/mongo-chat-repository.ts";
import { createMongoUsageOutbox, moveLegacyOutboxEntries } from "./adapters/mongo/mongo-usage-outbox.ts";
import { createMongoMessageRepository } from "./adapters/mongo/mongo-message-repository.ts";
import { createMongoProviderRepository } from "./adapters/mongo/mongo-provider-repository.ts";
import { gptTokenCounter } from "./adapters/tokenizer/gpt-token-counter.ts";
import { createOpenAiCompatibleGateway } from "./adapters/upstream/openai-compatible-gateway.ts";
import { createUpstreamUrlGuard } from "./adapters/upstream/upstream-url-guard.ts";
import { ActiveStreams } from "./application/active-streams.ts";
import { createCompleteForApi } from "./application/complete-for-api.ts";
import type { ChatDependencies } from "./application/dependencies.ts";
import { listMessages } from "./application/list-messages.ts";
import { chatManagement } from "./application/manage-chats.ts";
import { providerManagement } from "./application/manage-providers.ts";
import { listModels } from "./application/models.ts";
import { createOutboxRelay } from "./application/outbox-relay.ts";
import { createUsageRecorder } from "./application/usage-recorder.ts";
import { recoverAbandonedReplies } from "./application/recover-abandoned-replies.ts";
import { createSendMessage } from "./application/send-message.ts";
import { stopMessage } from "./application/stop-message.ts";
import { KeyPool } from "./domain/key-pool.ts";
import { DEFAULT_TENANT_ID } from "./domain/provider.ts";

const logger = createLogger("chat", config.LOG_LEVEL);
const shutdown = createShutdown(logger);

const mongo = await connectMongo(config.MONGO_URL, logger);
shutdown.add("mongodb", mongo.close);
const redis = connectRedis(config.REDIS_URL, logger);
shutdown.add("redis", redis.close);
const amqp = connectAmqp(config.AMQP_URL, logger);
shutdown.add("rabbitmq", amqp.close);
const exchange = eventsExchange(config.AMQP_NAME_PREFIX);
await declareUsageTopology(amqp, exchange);

const bus = createInvalidationBus({ redis: redis.redis, keyPrefix: config.REDIS_KEY_PREFIX, logger });
shutdown.add("invalidation bus", bus.close);

const grpcOptions = { internalToken: config.INTERNAL_GRPC_TOKEN };
const identity = createGrpcClient(IdentityServiceService, { name: "identity", address: config.IDENTITY_GRPC_ADDRESS, ...grpcOptions });
// Reservations act for the caller of the call being served: its token is forwarded.
const quota = createGrpcClient(QuotaServiceService, { name: "quota", address: config.QUOTA_GRPC_ADDRESS, forwardCaller: true, ...grpcOptions });
const callers = createSessionCallerVerifier({ sessionAddress: config.SESSION_GRPC_ADDRESS, ...grpcOptions });
const userLookup = createIdentityUserLookup(identity, bus);
const tenantSettings = createTenantSettingsReader({
  redis: redis.redis,
  keyPrefix: config.REDIS_KEY_PREFIX,
  admin: { address: config.ADMIN_GRPC_ADDRESS, ...grpcOptions },
  cache: bus.cache("tenantSettings", { ttlMs: 5 * 60_000, maxEntries: 10_000 }),
});
shutdown.add("grpc clients", () => {
  tenantSettings.close();
  identity.close();
  quota.close();
  callers.close();
});

// Usage events: published with a confirm when a completion ends; the outbox collection only
// holds the ones the broker did not confirm, until the relay publishes them.
const usageOutbox = createMongoUsageOutbox(mongo.connection);
const relay = createOutboxRelay({
  stores: [usageOutbox],
  publisher: amqpUsagePublisher(amqp, exchange),
  clock: systemClock,
  intervalMs: config.USAGE_RELAY_INTERVAL_MS,
  onError: (error) => logger.warn({ err: (error as Error).message }, "usage events not relayed yet; will retry"),
});
const usage = createUsageRecorder({
  publisher: amqpUsagePublisher(amqp, exchange),
  outbox: usageOutbox,
  publishTimeoutMs: config.USAGE_PUBLISH_TIMEOUT_MS,
  stored: () => relay.kick(),
  onLost: (error) =>
    logger.error({ err: (error as Error).message }, "usage event neither confirmed nor stored; its reservation will be charged at its estimate"),
});

const messages = createMongoMessageRepository(mongo.connection, usage);
const chats = createMongoChatRepository(mongo.connection, (owner, chatId) => messages.deleteChat(owner, chatId));
const urlGuard = createUpstreamUrlGuard({ allowedHosts: config.UPSTREAM_ALLOWED_HOSTS });
shutdown.add("upstream connections", () => urlGuard.close());
const providers = createMongoProviderRepository(mongo.connection, createSecretBox(config.SECRETS_KEYRING), (tenantId) => tenantSettings.get(tenantId), {
  cache: bus.cache("models", { ttlMs: 5 * 60_000, maxEntries: 10_000 }),
  changed: (keys) => bus.publish("models", keys),
});
await Promise.all([messages.ready(), chats.ready(), usageOutbox.ready(), providers.ready()]);
// In the background: until a start has found none, it reads every stored message (minutes at a
// million on FerretDB v1), which must not hold up serving.
void moveLegacyOutboxEntries(mongo.connection, usageOutbox).then(
  (moved) => {
    if (moved === 0) return;
    logger.info({ events: moved }, "unsent usage events moved to the outbox collection");
    relay.kick();
  },
  (error: unknown) => logger.warn({ err: (error as Error).message }, "legacy usage events not moved yet; the next start tries again"),
);
if (config.DEFAULT_LLM_BASE_URL) {
  await providers.ensureEnvironmentProvider({
    tenantId: DEFAULT_TENANT_ID,
    baseUrl: config.DEFAULT_LLM_BASE_URL,
    keys: config.DEFAULT_LLM_API_KEYS.length > 0 ? config.DEFAULT_LLM_API_KEYS : [""],
    // "id" or "id=Display name".
    models: config.DEFAULT_LLM_MODELS.map((entry) => {
      const [id = "", ...name] = entry.split("=");
      return { id: id.trim(), name: name.join("=").trim() || id.trim() };
    }),
  });
} else {
  logger.warn("DEFAULT_LLM_BASE_URL is not set: the default tenant has no model until an admin configures a provider");
}
const reencrypted = await providers.reencryptStaleKeys();
if (reencrypted > 0) logger.info({ providers: reencrypted }, "upstream keys re-encrypted with the current secrets key");

const deps: ChatDependencies = {
  chats,
  messages,
  completions: usage,
  quota: grpcQuotaGate(quota),
  users: {
    async get(owner) {
      const user = await userLookup.get(owner.tenantId, owner.userId);
      if (!user) throw notFound("user");
      return { status: user.status, maxChats: user.maxChats };
    },
  },
  models: providers,
  // From the bus-invalidated cache: no Redis or admin call per request, exact after a change.
  tenantSettings: { maxCompletionTokens: async (tenantId) => (await tenantSettings.get(tenantId)).maxCompletionTokens },
  llm: createOpenAiCompatibleGateway({
    providers,
    pool: new KeyPool(systemClock, { cooldownMs: config.UPSTREAM_KEY_COOLDOWN_MS, unauthorizedCooldownMs: config.UPSTREAM_UNAUTHORIZED_COOLDOWN_MS }),
    firstTokenTimeoutMs: config.UPSTREAM_FIRST_TOKEN_TIMEOUT_MS,
    idleTimeoutMs: config.UPSTREAM_IDLE_TIMEOUT_MS,
    answerTimeoutMs: config.UPSTREAM_ANSWER_TIMEOUT_MS,
    onKeyFailure: (details) => logger.warn(details, "upstream key set aside"),
    fetch: (url, init) => urlGuard.request(url, init),
  }),
  tokens: gptTokenCounter,
  clock: systemClock,
  newId,
  newUuid,
  // Usage is published by the recorder itself; the relay is woken only when the outbox took an event.
  usageRecorded: () => undefined,
  historyMessages: config.CHAT_HISTORY_MESSAGES,
  maxCompletionTokens: config.CHAT_MAX_COMPLETION_TOKENS,
  checkpointIntervalMs: config.CHAT_CHECKPOINT_INTERVAL_MS,
};
const active = new ActiveStreams();

// Answers abandoned by a process that died are closed and counted (checked every 30 s).
const staleAfterMs = Math.max(60_000, config.UPSTREAM_IDLE_TIMEOUT_MS + 10_000);
const recovery = setInterval(() => {
  recoverAbandonedReplies(deps, staleAfterMs).catch((error: unknown) => logger.warn({ err: error }, "recovering abandoned answers failed"));
}, 30_000);
recovery.unref();

relay.start();
// Stop order (reverse of registration): stop taking calls, let streams finish, flush events, then close connections.
shutdown.add("usage relay", async () => {
  clearInterval(recovery);
  await usage.drain();
  await relay.stop();
  await relay.drain().catch(() => undefined);
});

await startServiceRuntime({
  name: "chat",
  logger,
  shutdown,
  grpcPort: config.CHAT_GRPC_PORT,
  grpcHost: config.GRPC_BIND_HOST,
  probePort: config.CHAT_PROBE_PORT,
  dependencies: [mongo.dependency, redis.dependency, amqp.dependency],
  services: [
    {
      definition: ChatServiceService,
      implementation: implement(
        ChatServiceService,
        chatGrpcHandlers(
          {
            chats: chatManagement(deps),
            listModels: (tenantId) => listModels(deps.models, tenantId),
            listMessages: (owner, input) => listMessages(deps, owner, input),
            sendMessage: createSendMessage(deps, active),
            stopMessage: (owner, chatId, messageId) => stopMessage(deps, owner, chatId, messageId, (id) => active.stop(id)),
            complete: createCompleteForApi(deps),
            providers: providerManagement({ providers, urlGuard, clock: systemClock, newId }),
          },
          callers.verify,
          createAdmissionLimit(config.CHAT_MAX_COMPLETIONS_IN_FLIGHT, "chat.completions"),
        ),
        { logger, internalToken: config.INTERNAL_GRPC_TOKEN },
      ),
    },
  ],
});
