import { AppError } from "@tessera/platform";
import { dayOf } from "../domain/quota-day.ts";
import { usageEffect, validateUsageRecord, type UsageRecord, type UserDay } from "../domain/usage.ts";
import type { QuotaContext } from "./quota-context.ts";

/**
 * Counts one usage event exactly once. The durable rollup is written first (so an acknowledged
 * event is never only in Redis), then the live counters; each store keeps the ids of the events
 * it holds, so a redelivery after a crash at any point is recognised by both.
 * Throws 422 (invalid_event) for events that can never be counted, 503 when a store is down.
 */
export function recordUsage(context: QuotaContext) {
  return async (input: UsageRecord): Promise<"applied" | "duplicate"> => {
    const record = validateUsageRecord(input);
    const settings = await context.settingsOf(record.tenantId);
    const key: UserDay = { tenantId: record.tenantId, userId: record.userId, day: dayOf(record.occurredAt, settings.timeZone) };
    const effect = usageEffect(record);
    const durable = await context.ports.rollups.record(key, effect);
    const ttl = context.counterTtlSeconds(key.day, settings.timeZone);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const live = await context.ports.counters.apply(key, effect, record.reservationId, ttl);
      if (live !== "missing") return durable;
      // Seeded from the rollup, which already holds this event: the retry then sees it as counted.
      await context.ensureCounters(key, settings.timeZone);
    }
    throw new AppError("internal", 500, "live counters could not be initialised", { expose: false });
  };
}
