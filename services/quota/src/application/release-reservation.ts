import type { Caller } from "../domain/ports.ts";
import { getQuota } from "./get-quota.ts";
import type { QuotaContext, QuotaStatus } from "./quota-context.ts";

/** Gives back a reservation whose send failed before anything was generated; repeating it is harmless. */
export function releaseReservation(context: QuotaContext) {
  const quota = getQuota(context);
  return async (caller: Caller, reservationId: string): Promise<QuotaStatus> => {
    if (reservationId)
      await context.withCounters("release", () => context.ports.counters.release({ tenantId: caller.tenantId, userId: caller.userId }, reservationId));
    return quota(caller);
  };
}
