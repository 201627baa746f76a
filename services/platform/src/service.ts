import type { ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import { startGrpcServer } from "./grpc.ts";
import { grpcHealthService, startProbeServer, type Dependency } from "./health.ts";
import type { Logger } from "./logger.ts";
import type { Shutdown } from "./shutdown.ts";

export interface ServiceRuntimeOptions {
  name: string;
  logger: Logger;
  shutdown: Shutdown;
  grpcPort: number;
  /** The interface gRPC listens on (GRPC_BIND_HOST). */
  grpcHost?: string;
  probePort: number;
  dependencies: Dependency[];
  services: Array<{ definition: ServiceDefinition; implementation: UntypedServiceImplementation }>;
}

/** Starts a service's gRPC server (with the health service) and its HTTP probes, and registers their shutdown. */
export async function startServiceRuntime(options: ServiceRuntimeOptions): Promise<{ grpcPort: number; probePort: number }> {
  const health = grpcHealthService(options.name, options.dependencies, options.shutdown.isShuttingDown);
  const grpc = await startGrpcServer(options.grpcPort, [...options.services, health], options.grpcHost);
  options.shutdown.add("grpc server", grpc.close);
  const probes = await startProbeServer(options.probePort, options.dependencies, options.shutdown.isShuttingDown);
  options.shutdown.add("probe server", () => new Promise<void>((resolve) => probes.close(() => resolve())));
  const address = probes.address();
  const probePort = typeof address === "object" && address ? address.port : options.probePort;
  options.logger.info({ grpcPort: grpc.port, probePort }, `${options.name} service ready`);
  return { grpcPort: grpc.port, probePort };
}
