import { IdentityServiceService } from "@tessera/proto/tessera/identity/v1/identity";
import { SessionServiceService } from "@tessera/proto/tessera/session/v1/session";
import { HealthService } from "@tessera/proto/grpc/health/v1/health";
import { createGrpcClient, type Dependency, type GrpcClient } from "@tessera/platform";

export type IdentityClient = GrpcClient<typeof IdentityServiceService>;
export type SessionClient = GrpcClient<typeof SessionServiceService>;

export function createServiceClients(options: { identityAddress: string; sessionAddress: string; internalToken: string }) {
  const identity = createGrpcClient(IdentityServiceService, { name: "identity", address: options.identityAddress, internalToken: options.internalToken });
  const session = createGrpcClient(SessionServiceService, { name: "session", address: options.sessionAddress, internalToken: options.internalToken });
  return { identity, session };
}

/** Readiness of another service through the standard gRPC health protocol. */
export function grpcServiceDependency(name: string, address: string, internalToken: string): Dependency & { close(): void } {
  const health = createGrpcClient(HealthService, { name, address, internalToken, defaultDeadlineMs: 1_000 });
  return {
    name,
    check: async () => {
      const response = await health.check({ service: "" });
      if (response.status !== 1) throw new Error("not serving");
    },
    close: () => health.close(),
  };
}
