import { checkAndReserve } from "./check-and-reserve.ts";
import { getQuota } from "./get-quota.ts";
import { getDayUsage, getModelUsage, getUsage } from "./get-usage.ts";
import { createQuotaContext, type QuotaOptions, type QuotaPorts } from "./quota-context.ts";
import { rebuildCounters } from "./rebuild-counters.ts";
import { recordUsage, recordUsageBatch } from "./record-usage.ts";
import { chargeExpiredReservations } from "./charge-expired-reservations.ts";
import type { UsageEventSink } from "../domain/ports.ts";
import { releaseReservation } from "./release-reservation.ts";

/** Every quota use case, wired to one set of ports. */
export function createQuotaUseCases(ports: QuotaPorts, options: QuotaOptions) {
  const context = createQuotaContext(ports, options);
  const batch = recordUsageBatch(context);
  return {
    /** Counts a batch of usage events; see CountedBatch for when it is in the rollups. */
    recordUsageBatch: batch.count,
    chargeExpiredReservations: (sink: UsageEventSink) => chargeExpiredReservations(context, sink),
    checkAndReserve: checkAndReserve(context),
    release: releaseReservation(context),
    getQuota: getQuota(context),
    getUsage: getUsage(context),
    getDayUsage: getDayUsage(context),
    recordUsage: recordUsage(batch),
    getModelUsage: getModelUsage(context),
    rebuildCounters: rebuildCounters(context),
  };
}

export type QuotaUseCases = ReturnType<typeof createQuotaUseCases>;
export type { QuotaOptions, QuotaPorts } from "./quota-context.ts";
