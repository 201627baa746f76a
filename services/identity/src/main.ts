import { IdentityServiceService } from "@tessera/proto/tessera/identity/v1/identity";
import { SessionServiceService } from "@tessera/proto/tessera/session/v1/session";
import {
  connectMongo,
  connectRedis,
  createLogger,
  createGrpcClient,
  createInvalidationBus,
  createSessionCallerVerifier,
  createSessionGrantSigner,
  userCacheKey,
  createShutdown,
  createTenantSettingsReader,
  implement,
  randomSecret,
  startServiceRuntime,
  systemClock,
} from "@tessera/platform";
import { config, configuredProviders } from "./config.ts";
import { createEnvironmentSignInPolicy } from "./adapters/oauth/environment-sign-in-policy.ts";
import { createPublishedSignInPolicy } from "./adapters/oauth/published-sign-in-policy.ts";
import { createOpenIdClientGateway } from "./adapters/oauth/openid-client-gateway.ts";
import { createMongoLinkedIdentityRepository } from "./adapters/mongo/mongo-linked-identity-repository.ts";
import { createRedisOAuthFlowStore } from "./adapters/redis/redis-oauth-flow-store.ts";
import { createArgon2PasswordHasher } from "./adapters/crypto/argon2-password-hasher.ts";
import { loadCommonPasswords } from "./adapters/crypto/common-passwords.ts";
import { identityGrpcHandlers } from "./adapters/grpc/identity-grpc-handlers.ts";
import { createMongoIdentityRepositories } from "./adapters/mongo/mongo-identity-repositories.ts";
import { createRedisAttemptThrottle } from "./adapters/redis/redis-attempt-throttle.ts";
import { createRedisTenantLock } from "./adapters/redis/redis-tenant-lock.ts";
import { createIdentityUseCases } from "./application/identity-use-cases.ts";

const logger = createLogger("identity", config.LOG_LEVEL);
const shutdown = createShutdown(logger);

const mongo = await connectMongo(config.MONGO_URL, logger);
shutdown.add("mongodb", mongo.close);
const redis = connectRedis(config.REDIS_URL, logger);
shutdown.add("redis", redis.close);

const repositories = createMongoIdentityRepositories(mongo.connection);
await repositories.ready();
const identities = createMongoLinkedIdentityRepository(mongo.connection);
await identities.ready();
const providers = configuredProviders();
const hasher = createArgon2PasswordHasher();
const session = createGrpcClient(SessionServiceService, { name: "session", address: config.SESSION_GRPC_ADDRESS, internalToken: config.INTERNAL_GRPC_TOKEN });
const callers = createSessionCallerVerifier({ sessionAddress: config.SESSION_GRPC_ADDRESS, internalToken: config.INTERNAL_GRPC_TOKEN });
shutdown.add("session clients", () => (session.close(), callers.close()));
const bus = createInvalidationBus({ redis: redis.redis, keyPrefix: config.REDIS_KEY_PREFIX, logger });
shutdown.add("invalidation bus", bus.close);
const tenantSettings = createTenantSettingsReader({
  redis: redis.redis,
  keyPrefix: config.REDIS_KEY_PREFIX,
  admin: { address: config.ADMIN_GRPC_ADDRESS, internalToken: config.INTERNAL_GRPC_TOKEN },
  cache: bus.cache("tenantSettings", { ttlMs: 5 * 60_000, maxEntries: 10_000 }),
});
shutdown.add("admin client", () => tenantSettings.close());
const useCases = createIdentityUseCases({
  users: repositories.users,
  tenants: repositories.tenants,
  apiKeys: repositories.apiKeys,
  sessions: { revokeUserSessions: async (tenantId, userId) => void (await session.revokeUserSessions({ tenantId, userId })) },
  changes: {
    userChanged: (tenantId, userId) => bus.publish("users", [userCacheKey(tenantId, userId)]),
    apiKeyRevoked: (hash) => bus.publish("apiKeys", [hash]),
    tenantsChanged: () => bus.publish("tenants", []),
  },
  clock: systemClock,
  hasher,
  commonPasswords: loadCommonPasswords(),
  throttle: createRedisAttemptThrottle(redis.redis, config.REDIS_KEY_PREFIX, {
    perAccount: config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
    perIp: config.LOGIN_MAX_FAILURES_PER_IP,
    registrationsPerIp: config.REGISTRATION_MAX_PER_IP,
    registrationsPerTenant: config.REGISTRATION_MAX_PER_TENANT,
    windowSeconds: config.LOGIN_THROTTLE_WINDOW_SECONDS,
    baseLockSeconds: config.LOGIN_LOCKOUT_BASE_SECONDS,
    maxLockSeconds: config.LOGIN_LOCKOUT_MAX_SECONDS,
  }),
  tenantLock: createRedisTenantLock(redis.redis, config.REDIS_KEY_PREFIX),
  dummyHash: await hasher.hash(randomSecret()),
  identities,
  oauthFlows: createRedisOAuthFlowStore(redis.redis, config.REDIS_KEY_PREFIX),
  oauthGateway: createOpenIdClientGateway(providers, logger),
  signInPolicies: createPublishedSignInPolicy({
    settings: tenantSettings,
    fallback: createEnvironmentSignInPolicy({ defaultTenantId: (await repositories.tenants.ensureDefault()).id, providerIds: providers.map((provider) => provider.id), autoLinkVerifiedEmail: config.OAUTH_AUTO_LINK_VERIFIED_EMAIL }),
    autoLinkVerifiedEmail: config.OAUTH_AUTO_LINK_VERIFIED_EMAIL,
  }),
});
if (providers.length > 0) logger.info({ providers: providers.map((provider) => provider.id) }, "sign-in providers configured");

const firstAdmin =
  config.FIRST_ADMIN_EMAIL && config.FIRST_ADMIN_USERNAME && config.FIRST_ADMIN_PASSWORD
    ? { email: config.FIRST_ADMIN_EMAIL, username: config.FIRST_ADMIN_USERNAME, password: config.FIRST_ADMIN_PASSWORD }
    : undefined;
const operator = config.OPERATOR_EMAIL && config.OPERATOR_PASSWORD ? { email: config.OPERATOR_EMAIL, password: config.OPERATOR_PASSWORD } : undefined;
await useCases.seed(firstAdmin, operator, (notice) => logger.warn({ userId: notice.userId }, `seeding the ${notice.account}: ${notice.reason}`));

await startServiceRuntime({
  name: "identity",
  logger,
  shutdown,
  grpcPort: config.IDENTITY_GRPC_PORT,
  grpcHost: config.GRPC_BIND_HOST,
  probePort: config.IDENTITY_PROBE_PORT,
  dependencies: [mongo.dependency, redis.dependency],
  services: [
    {
      definition: IdentityServiceService,
      implementation: implement(IdentityServiceService, identityGrpcHandlers(useCases, callers.verify, createSessionGrantSigner(config.SESSION_GRANT_SECRET)), { logger, internalToken: config.INTERNAL_GRPC_TOKEN }),
    },
  ],
});
