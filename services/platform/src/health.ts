import { createServer, type Server } from "node:http";
import { HealthCheckResponseServingStatus, HealthService, type HealthCheckRequest, type HealthCheckResponse } from "@tessera/proto/grpc/health/v1/health";
import type { sendUnaryData, ServerUnaryCall, ServerWritableStream, UntypedServiceImplementation } from "@grpc/grpc-js";

/** Something a service needs in order to do its work (a database, a broker, another service). */
export interface Dependency {
  name: string;
  /** Resolves when reachable; rejects (or times out) when not. */
  check(): Promise<void>;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, "up" | "down">;
}

/** Checks every dependency in parallel, each bounded by a timeout. */
export async function checkReadiness(dependencies: Dependency[], timeoutMs = 1_500): Promise<ReadinessReport> {
  const results = await Promise.all(
    dependencies.map(async (dependency) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          dependency.check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
          }),
        ]);
        return [dependency.name, "up"] as const;
      } catch {
        return [dependency.name, "down"] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const checks = Object.fromEntries(results);
  return { ready: results.every(([, state]) => state === "up"), checks };
}

/** The standard grpc.health.v1 service: "" and the service's own name reflect readiness. */
export function grpcHealthService(serviceName: string, dependencies: Dependency[], isShuttingDown: () => boolean) {
  const statusFor = async (service: string) => {
    if (service !== "" && service !== serviceName) return HealthCheckResponseServingStatus.SERVICE_UNKNOWN;
    if (isShuttingDown()) return HealthCheckResponseServingStatus.NOT_SERVING;
    const report = await checkReadiness(dependencies);
    return report.ready ? HealthCheckResponseServingStatus.SERVING : HealthCheckResponseServingStatus.NOT_SERVING;
  };
  const implementation: UntypedServiceImplementation = {
    check: (call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: sendUnaryData<HealthCheckResponse>) => {
      statusFor(call.request.service).then(
        (status) => callback(null, { status }),
        (error: Error) => callback(error),
      );
    },
    watch: (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
      let last: number | undefined;
      const tick = () =>
        statusFor(call.request.service).then((status) => {
          if (status !== last) call.write({ status });
          last = status;
        });
      void tick();
      const timer = setInterval(tick, 2_000);
      call.on("cancelled", () => clearInterval(timer));
    },
  };
  return { definition: HealthService, implementation };
}

/** HTTP probes for Kubernetes and humans: /healthz (alive) and /readyz (dependencies reachable). */
export function startProbeServer(port: number, dependencies: Dependency[], isShuttingDown: () => boolean): Promise<Server> {
  const server = createServer((request, response) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
      response.end(JSON.stringify(body));
    };
    if (request.url === "/healthz") return send(200, { status: "ok" });
    if (request.url === "/readyz") {
      if (isShuttingDown()) return send(503, { status: "shutting_down", checks: {} });
      void checkReadiness(dependencies).then((report) =>
        send(report.ready ? 200 : 503, { status: report.ready ? "ok" : "unavailable", checks: report.checks }),
      );
      return;
    }
    send(404, { status: "not_found" });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "0.0.0.0", () => resolve(server));
  });
}
