import { QuotaServiceService } from "@tessera/proto/tessera/quota/v1/quota";
import { connectAmqp, connectMongo, connectRedis, createLogger, createShutdown, implement, startServiceRuntime } from "@tessera/platform";
import { config } from "./config.ts";

const logger = createLogger("quota", config.LOG_LEVEL);
const shutdown = createShutdown(logger);

const mongo = await connectMongo(config.MONGO_URL, logger);
shutdown.add("mongodb", mongo.close);
const redis = connectRedis(config.REDIS_URL, logger);
shutdown.add("redis", redis.close);
const amqp = connectAmqp(config.AMQP_URL, logger);
shutdown.add("rabbitmq", amqp.close);

await startServiceRuntime({
  name: "quota",
  logger,
  shutdown,
  grpcPort: config.QUOTA_GRPC_PORT,
  probePort: config.QUOTA_PROBE_PORT,
  dependencies: [mongo.dependency, redis.dependency, amqp.dependency],
  services: [{ definition: QuotaServiceService, implementation: implement(QuotaServiceService, {}, { logger, internalToken: config.INTERNAL_GRPC_TOKEN }) }],
});
