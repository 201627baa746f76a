import { AppError, unavailable } from "@tessera/platform";
import type { CounterChange } from "../domain/ports.ts";
import { dayOf } from "../domain/quota-day.ts";
import { usageEffect, usageKey, validateUsageRecord, type UsageRecord } from "../domain/usage.ts";
import type { QuotaContext } from "./quota-context.ts";

export type RecordOutcome = "applied" | "duplicate";

/**
 * Counts a batch of usage events exactly once, in order.
 *
 * 1. One pipelined round trip to the live counters applies each event unless its usage key was
 *    counted before (settling its reservation) and records what it adds in a journal, in the
 *    same script: counting and journaling cannot come apart.
 * 2. Every journal not yet written (this one, and any left by a crash) goes to the rollups in
 *    order, one upsert per user-day guarded by the journal id, then is closed.
 *
 * The caller acknowledges the deliveries only after this resolves, so a crash anywhere means a
 * redelivery the counters recognise, and a journal the next flush writes (again, harmlessly).
 * Invalid events come back as 422 errors in their slot (the rest are counted); an outage of a
 * store rejects the whole call (503) with nothing acknowledged.
 */
export function recordUsageBatch(context: QuotaContext) {
  // One batch at a time in this process: a journal is complete before any flush reads it, and
  // journals reach the rollups in order (the guard only recognises a rollup's last journal).
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work);
    queue = run.catch(() => undefined);
    return run;
  };

  /** Writes every open journal to the rollups, oldest first; resolves with their ids. */
  const flushJournals = async () => {
    const written: string[] = [];
    for (const journal of await context.ports.counters.pendingJournals()) {
      await context.ports.rollups.applyJournal(journal);
      await context.ports.counters.closeJournal(journal.id);
      written.push(journal.id);
    }
    return written;
  };

  const apply = async (records: UsageRecord[]): Promise<Array<RecordOutcome | AppError>> => {
    const results: Array<RecordOutcome | AppError> = [];
    const changes: Array<{ slot: number; change: CounterChange; timeZone: string }> = [];
    for (const [slot, input] of records.entries()) {
      try {
        const record = validateUsageRecord(input);
        const settings = await context.settingsOf(record.tenantId);
        const key = { tenantId: record.tenantId, userId: record.userId, day: dayOf(record.occurredAt, settings.timeZone) };
        const change: CounterChange = {
          key,
          effect: usageEffect(record),
          usageKey: usageKey(record),
          reservationId: record.reservationId,
          ttlSeconds: context.counterTtlSeconds(key.day, settings.timeZone),
        };
        changes.push({ slot, change, timeZone: settings.timeZone });
        results.push("applied");
      } catch (error) {
        if (!(error instanceof AppError) || error.code !== "invalid_event") throw error;
        results.push(error);
      }
    }

    const opened: string[] = [];
    const written = new Set<string>();
    let todo = changes;
    for (let attempt = 0; todo.length > 0; attempt += 1) {
      if (attempt === 3) throw new AppError("internal", 500, "live counters could not be initialised", { expose: false });
      // A journal per attempt: seeding below flushes (and closes) the journals open so far.
      const journal = await context.ports.counters.openJournal();
      opened.push(journal);
      const outcomes = await context.ports.counters.applyBatch(
        journal,
        todo.map(({ change }) => change),
      );
      const missing: typeof todo = [];
      outcomes.forEach((outcome, index) => {
        const item = todo[index]!;
        if (outcome === "missing") missing.push(item);
        else results[item.slot] = outcome;
      });
      // Counters missing for a day (new day, expired, Redis lost them) are seeded from the rollup,
      // then those events (in their order) are applied again.
      const seeded = new Set<string>();
      for (const { change, timeZone } of missing) {
        const id = `${change.key.tenantId}/${change.key.userId}/${change.key.day}`;
        if (seeded.has(id)) continue;
        seeded.add(id);
        for (const id of await flushJournals()) written.add(id);
        await context.ensureCounters(change.key, timeZone);
      }
      todo = missing;
    }
    for (const id of await flushJournals()) written.add(id);
    // A journal of this batch that was never written means Redis lost its data meanwhile (with
    // what this batch counted): nothing is acknowledged, and the batch is counted again from the
    // rollups when it is retried.
    if (opened.some((id) => !written.has(id))) throw unavailable("The quota counter store (it lost a journal)");
    return results;
  };

  return {
    apply: (records: UsageRecord[]) => exclusive(() => apply(records)),
    flushJournals: () => exclusive(flushJournals),
  };
}

/** One event (the batch of one): "applied", "duplicate", or thrown 422 / 503. */
export function recordUsage(batch: ReturnType<typeof recordUsageBatch>) {
  return async (record: UsageRecord): Promise<RecordOutcome> => {
    const [result] = await batch.apply([record]);
    if (result instanceof AppError) throw result;
    return result!;
  };
}
