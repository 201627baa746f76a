import { IdentityServiceService } from "@tessera/proto/tessera/identity/v1/identity";
import { SessionServiceService } from "@tessera/proto/tessera/session/v1/session";
import {
  connectMongo,
  connectRedis,
  createCallerVerifier,
  createSessionGrantVerifier,
  createIdentityUserLookup,
  createInvalidationBus,
  createGrpcClient,
  createLogger,
  createSecretBox,
  createShutdown,
  implement,
  startServiceRuntime,
  systemClock,
} from "@tessera/platform";
import { config } from "./config.ts";
import { sha256TokenHasher } from "./adapters/crypto/sha256-token-hasher.ts";
import { createJoseAccessTokenSigner } from "./adapters/crypto/jose-access-token-signer.ts";
import { sessionGrpcHandlers } from "./adapters/grpc/session-grpc-handlers.ts";
import { createMongoSessionRepository } from "./adapters/mongo/mongo-session-repository.ts";
import { createRedisSessionCache } from "./adapters/redis/redis-session-cache.ts";
import { createRedisGrantLedger } from "./adapters/redis/redis-grant-ledger.ts";
import { createRedisRefreshStore } from "./adapters/redis/redis-refresh-store.ts";
import { createRedisSessionEnds } from "./adapters/redis/redis-session-ends.ts";
import { createSessionUseCases } from "./application/session-use-cases.ts";

const logger = createLogger("session", config.LOG_LEVEL);
const shutdown = createShutdown(logger);

const mongo = await connectMongo(config.MONGO_URL, logger);
shutdown.add("mongodb", mongo.close);
const redis = connectRedis(config.REDIS_URL, logger);
shutdown.add("redis", redis.close);
const identity = createGrpcClient(IdentityServiceService, {
  name: "identity",
  address: config.IDENTITY_GRPC_ADDRESS,
  internalToken: config.INTERNAL_GRPC_TOKEN,
});
shutdown.add("identity client", () => identity.close());

const bus = createInvalidationBus({ redis: redis.redis, keyPrefix: config.REDIS_KEY_PREFIX, logger });
shutdown.add("invalidation bus", bus.close);
const userLookup = createIdentityUserLookup(identity, bus);

// Refreshes rotate in Redis; the session documents (for session lists) are written behind.
const sessions = createMongoSessionRepository(mongo.connection, {
  onWriteError: (error) => logger.warn({ err: (error as Error).message }, "session activity not written yet; will retry"),
});
await sessions.ready();
shutdown.add("session write-behind", sessions.close);
const signer = createJoseAccessTokenSigner({
  connection: mongo.connection,
  box: createSecretBox(config.SECRETS_KEYRING),
  clock: systemClock,
  rotateAfterDays: config.SIGNING_KEY_ROTATION_DAYS,
});
await signer.ensureCurrentKey();

const useCases = createSessionUseCases({
  sessions,
  refresh: createRedisRefreshStore(redis.redis, config.REDIS_KEY_PREFIX),
  ends: createRedisSessionEnds(redis.redis, config.REDIS_KEY_PREFIX),
  cache: createRedisSessionCache(redis.redis, config.REDIS_KEY_PREFIX),
  grants: createRedisGrantLedger(redis.redis, config.REDIS_KEY_PREFIX),
  signer,
  users: {
    // The current role and status at refresh time: a demoted user's next access token says so.
    current: async (tenantId, userId) => {
      const user = await userLookup.get(tenantId, userId);
      return user && { role: user.role, status: user.status };
    },
  },
  events: { ended: (ids) => bus.publish("sessions", ids) },
  hasher: sha256TokenHasher,
  clock: systemClock,
});

// The session service checks its own tokens without a network hop.
const verify = createCallerVerifier(useCases.jwks as never);

// Hourly: rotate the signing key when it is old, and purge sessions that ended over 30 days ago
// (what is due only, found in Redis: an idle purge reads nothing from the document store).
const maintenance = setInterval(() => {
  signer.ensureCurrentKey().catch((error) => logger.warn({ err: error }, "signing key rotation failed"));
  useCases.purgeEnded(new Date(Date.now() - 30 * 24 * 3600 * 1000)).catch((error) => logger.warn({ err: error }, "session purge failed"));
}, 3600_000);
maintenance.unref();
shutdown.add("maintenance", () => clearInterval(maintenance));

await startServiceRuntime({
  name: "session",
  logger,
  shutdown,
  grpcPort: config.SESSION_GRPC_PORT,
  grpcHost: config.GRPC_BIND_HOST,
  probePort: config.SESSION_PROBE_PORT,
  dependencies: [mongo.dependency, redis.dependency],
  services: [
    {
      definition: SessionServiceService,
      implementation: implement(SessionServiceService, sessionGrpcHandlers(useCases, verify, createSessionGrantVerifier(config.SESSION_GRANT_SECRET)), { logger, internalToken: config.INTERNAL_GRPC_TOKEN }),
    },
  ],
});
