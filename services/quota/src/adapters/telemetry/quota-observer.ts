import { metrics } from "@opentelemetry/api";
import type { Logger } from "@tessera/platform";
import type { QuotaObserver } from "../../domain/ports.ts";

/** Counter-store outages as an OpenTelemetry counter (quota.counters.unavailable) and a log line. */
export function createQuotaObserver(logger: Logger): QuotaObserver {
  const meter = metrics.getMeter("tessera-quota");
  const outages = meter.createCounter("quota.counters.unavailable", {
    description: "Quota operations that found the Redis counter store unreachable",
  });
  return {
    countersUnavailable(operation, failOpen, error) {
      outages.add(1, { operation, outcome: failOpen ? "allowed" : "refused" });
      logger.warn(
        { operation, failOpen, err: (error as Error)?.message },
        failOpen ? "quota counters unavailable; continuing without them" : "quota counters unavailable; refusing",
      );
    },
  };
}
