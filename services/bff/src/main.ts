import { connectRedis, createAdmissionLimit, createIdentityUserLookup, createInvalidationBus, createLogger, createShutdown } from "@tessera/platform";
import type { Tenant } from "@tessera/proto/tessera/identity/v1/identity";
import { config } from "./config.ts";
import { createApp } from "./app.ts";
import { createRedisBrowserSessionStore } from "./adapters/redis-browser-session-store.ts";
import { createServiceClients, grpcServiceDependency } from "./adapters/service-clients.ts";
import { createBrowserAuth } from "./application/browser-auth.ts";
import { cookieSettingsFor } from "./http/request-context.ts";
import { createCsrfTokens } from "./http/csrf-token.ts";
import { malformedRequestReply } from "./http/request-guards.ts";
import { edgeAuthenticationAdapters } from "./adapters/edge-authentication-adapters.ts";
import { createEdgeAuthentication } from "./application/edge-authentication.ts";
import { createChatClient } from "./adapters/chat-client.ts";
import { createQuotaClient } from "./adapters/quota-client.ts";
import { createAdminClient } from "./adapters/admin-client.ts";

const logger = createLogger("bff", config.LOG_LEVEL);
const shutdown = createShutdown(logger);

const redis = connectRedis(config.REDIS_URL, logger);
shutdown.add("redis", redis.close);
const clients = createServiceClients({ identityAddress: config.IDENTITY_GRPC_ADDRESS, sessionAddress: config.SESSION_GRPC_ADDRESS, internalToken: config.INTERNAL_GRPC_TOKEN });
const serviceDependencies = [
  grpcServiceDependency("identity", config.IDENTITY_GRPC_ADDRESS, config.INTERNAL_GRPC_TOKEN),
  grpcServiceDependency("session", config.SESSION_GRPC_ADDRESS, config.INTERNAL_GRPC_TOKEN),
  grpcServiceDependency("chat", config.CHAT_GRPC_ADDRESS, config.INTERNAL_GRPC_TOKEN),
  grpcServiceDependency("quota", config.QUOTA_GRPC_ADDRESS, config.INTERNAL_GRPC_TOKEN),
  grpcServiceDependency("admin", config.ADMIN_GRPC_ADDRESS, config.INTERNAL_GRPC_TOKEN),
];
const chat = createChatClient({ address: config.CHAT_GRPC_ADDRESS, internalToken: config.INTERNAL_GRPC_TOKEN });
const quota = createQuotaClient({ address: config.QUOTA_GRPC_ADDRESS, internalToken: config.INTERNAL_GRPC_TOKEN });
shutdown.add("quota client", () => quota.close());
const admin = createAdminClient({ address: config.ADMIN_GRPC_ADDRESS, internalToken: config.INTERNAL_GRPC_TOKEN });
shutdown.add("admin client", () => admin.close());
shutdown.add("chat client", () => chat.close());
const bus = createInvalidationBus({ redis: redis.redis, keyPrefix: config.REDIS_KEY_PREFIX, logger });
shutdown.add("invalidation bus", bus.close);
// The one authentication of every request, from caches the invalidation bus keeps exact.
const edge = createEdgeAuthentication(
  edgeAuthenticationAdapters({ identity: clients.identity, session: clients.session, bus, users: createIdentityUserLookup(clients.identity, bus) }),
);
const tenants = bus.cache<Tenant>("tenants", { ttlMs: 5 * 60_000, maxEntries: 10_000 });
shutdown.add("grpc clients", () => {
  clients.identity.close();
  clients.session.close();
  for (const dependency of serviceDependencies) dependency.close();
});

const store = createRedisBrowserSessionStore(redis.redis, config.REDIS_KEY_PREFIX, { maxAccounts: config.MAX_ACCOUNTS_PER_BROWSER });
const app = createApp({
  logger,
  identity: clients.identity,
  session: clients.session,
  auth: createBrowserAuth({ identity: clients.identity, session: clients.session, store, maxAccounts: config.MAX_ACCOUNTS_PER_BROWSER }),
  store,
  cookie: cookieSettingsFor(config.PUBLIC_BASE_URL),
  // Keyed from the internal secret every BFF replica shares (HKDF with its own label).
  csrf: createCsrfTokens(config.INTERNAL_GRPC_TOKEN, cookieSettingsFor(config.PUBLIC_BASE_URL)),
  publicBaseUrl: config.PUBLIC_BASE_URL,
  trustedProxies: config.TRUSTED_PROXIES,
  webBuildDir: config.WEB_BUILD_DIR,
  dependencies: [redis.dependency, ...serviceDependencies],
  isShuttingDown: shutdown.isShuttingDown,
  chat,
  quota,
  admin,
  edge,
  completions: createAdmissionLimit(config.BFF_MAX_COMPLETIONS_IN_FLIGHT, "bff.completions"),
  tenantOf: (host) => tenants.getOrLoad(host, () => clients.identity.resolveTenant({ host })),
});

const server = app.listen(config.BFF_PORT, "0.0.0.0", () => {
  logger.info({ port: config.BFF_PORT, publicBaseUrl: config.PUBLIC_BASE_URL }, "bff listening");
});
// A request Node's HTTP parser refuses (bad header characters, a malformed request line) still
// gets an error body in its API's format, not an empty 400.
server.on("clientError", (error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket) => {
  if (!socket.writable || error.code === "ECONNRESET") return void socket.destroy();
  socket.end(malformedRequestReply(error.rawPacket));
});
server.on("error", (error) => {
  logger.fatal({ err: error }, "bff cannot listen");
  process.exit(1);
});
// In-flight requests (and SSE streams) finish before the process exits.
shutdown.add("http server", () => new Promise<void>((resolve) => server.close(() => resolve())));
