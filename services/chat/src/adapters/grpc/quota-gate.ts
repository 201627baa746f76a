import type { GrpcClient } from "@tessera/platform";
import type { QuotaServiceService } from "@tessera/proto/tessera/quota/v1/quota";
import type { QuotaGate } from "../../domain/ports.ts";

/**
 * The quota service's reservation calls; its 429 quota_exceeded (limits, used, resetAt) passes
 * through unchanged. The client forwards the caller token of the call being served (forwardCaller).
 */
export function grpcQuotaGate(quota: GrpcClient<typeof QuotaServiceService>): QuotaGate {
  return {
    async reserve(caller, reservationId, estimatedTokens = 0, send) {
      await quota.checkAndReserve(
        { tenantId: caller.tenantId, userId: caller.userId, reservationId, estimatedTokens, model: send?.model ?? "", source: send?.source ?? "" },
      );
    },
    async release(caller, reservationId) {
      await quota.release({ tenantId: caller.tenantId, userId: caller.userId, reservationId });
    },
  };
}
