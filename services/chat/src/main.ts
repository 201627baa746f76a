import { ChatServiceService } from "@tessera/proto/tessera/chat/v1/chat";
import { connectAmqp, connectMongo, createLogger, createShutdown, implement, startServiceRuntime } from "@tessera/platform";
import { config } from "./config.ts";

const logger = createLogger("chat", config.LOG_LEVEL);
const shutdown = createShutdown(logger);

const mongo = await connectMongo(config.MONGO_URL, logger);
shutdown.add("mongodb", mongo.close);
const amqp = connectAmqp(config.AMQP_URL, logger);
shutdown.add("rabbitmq", amqp.close);

await startServiceRuntime({
  name: "chat",
  logger,
  shutdown,
  grpcPort: config.CHAT_GRPC_PORT,
  probePort: config.CHAT_PROBE_PORT,
  dependencies: [mongo.dependency, amqp.dependency],
  services: [{ definition: ChatServiceService, implementation: implement(ChatServiceService, {}, { logger, internalToken: config.INTERNAL_GRPC_TOKEN }) }],
});
