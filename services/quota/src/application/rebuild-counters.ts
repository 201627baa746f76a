import { addDays, dayOf } from "../domain/quota-day.ts";
import type { QuotaContext } from "./quota-context.ts";

/**
 * Restores missing live counters of "today" (in each tenant's zone) from the durable rollups,
 * e.g. after Redis lost its data. Counters that exist are left alone: they already hold every
 * event the rollup holds, plus pending reservations the rollup cannot know about.
 */
export function rebuildCounters(context: QuotaContext) {
  return async (): Promise<{ examined: number; restored: number }> => {
    const utcToday = dayOf(context.ports.clock.now(), "UTC");
    // Today in any zone is one of these three UTC dates.
    const candidates = [addDays(utcToday, -1), utcToday, addDays(utcToday, 1)];
    let examined = 0;
    let restored = 0;
    for await (const row of context.ports.rollups.rowsOfDays(candidates)) {
      const settings = await context.settingsOf(row.tenantId);
      if (dayOf(context.ports.clock.now(), settings.timeZone) !== row.day) continue;
      examined += 1;
      const key = { tenantId: row.tenantId, userId: row.userId, day: row.day };
      if ((await context.ports.counters.read(key)) !== null) continue;
      // From the row in hand: a read of each rollup by its id is a scan of them all on FerretDB v1.
      await context.ports.counters.initialize(key, row.usage, context.counterTtlSeconds(key.day, settings.timeZone));
      restored += 1;
    }
    return { examined, restored };
  };
}
