import { AdminServiceService } from "@tessera/proto/tessera/admin/v1/admin";
import {
  connectMongo,
  connectRedis,
  createInvalidationBus,
  createLogger,
  createSessionCallerVerifier,
  createShutdown,
  implement,
  newId,
  startServiceRuntime,
  systemClock,
} from "@tessera/platform";
import { config } from "./config.ts";
import { adminGrpcHandlers } from "./adapters/grpc/admin-grpc-handlers.ts";
import { downstreamClients, identityPort, providerPort, usagePort } from "./adapters/grpc/downstream-ports.ts";
import { createMongoAuditLog } from "./adapters/mongo/mongo-audit-log.ts";
import { createMongoSettingsRepository } from "./adapters/mongo/mongo-settings-repository.ts";
import { createRedisSettingsPublisher } from "./adapters/redis/redis-settings-publisher.ts";
import { createAdminUseCases } from "./application/admin-use-cases.ts";

const logger = createLogger("admin", config.LOG_LEVEL);
const shutdown = createShutdown(logger);

const mongo = await connectMongo(config.MONGO_URL, logger);
shutdown.add("mongodb", mongo.close);
const redis = connectRedis(config.REDIS_URL, logger);
shutdown.add("redis", redis.close);
const bus = createInvalidationBus({ redis: redis.redis, keyPrefix: config.REDIS_KEY_PREFIX, logger });
shutdown.add("invalidation bus", bus.close);

const clients = downstreamClients({ identityAddress: config.IDENTITY_GRPC_ADDRESS, quotaAddress: config.QUOTA_GRPC_ADDRESS, chatAddress: config.CHAT_GRPC_ADDRESS, internalToken: config.INTERNAL_GRPC_TOKEN });
const tokens = createSessionCallerVerifier({ sessionAddress: config.SESSION_GRPC_ADDRESS, internalToken: config.INTERNAL_GRPC_TOKEN });
shutdown.add("grpc clients", () => {
  clients.close();
  tokens.close();
});

const audit = createMongoAuditLog(mongo.connection);
await audit.ready();
const useCases = createAdminUseCases({
  settings: createMongoSettingsRepository(mongo.connection),
  publisher: createRedisSettingsPublisher(redis.redis, config.REDIS_KEY_PREFIX, bus),
  audit,
  identity: identityPort(clients.identity),
  usage: usagePort(clients.quota),
  providers: providerPort(clients.chat),
  clock: systemClock,
  newId,
});

await startServiceRuntime({
  name: "admin",
  logger,
  shutdown,
  grpcPort: config.ADMIN_GRPC_PORT,
  grpcHost: config.GRPC_BIND_HOST,
  probePort: config.ADMIN_PROBE_PORT,
  dependencies: [mongo.dependency, redis.dependency],
  services: [{ definition: AdminServiceService, implementation: implement(AdminServiceService, adminGrpcHandlers(useCases, tokens.verify), { logger, internalToken: config.INTERNAL_GRPC_TOKEN }) }],
});
