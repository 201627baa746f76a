import { AdminServiceService } from "@tessera/proto/tessera/admin/v1/admin";
import { connectMongo, createLogger, createShutdown, implement, startServiceRuntime } from "@tessera/platform";
import { config } from "./config.ts";

const logger = createLogger("admin", config.LOG_LEVEL);
const shutdown = createShutdown(logger);

const mongo = await connectMongo(config.MONGO_URL, logger);
shutdown.add("mongodb", mongo.close);

await startServiceRuntime({
  name: "admin",
  logger,
  shutdown,
  grpcPort: config.ADMIN_GRPC_PORT,
  probePort: config.ADMIN_PROBE_PORT,
  dependencies: [mongo.dependency],
  services: [{ definition: AdminServiceService, implementation: implement(AdminServiceService, {}, { logger, internalToken: config.INTERNAL_GRPC_TOKEN }) }],
});
