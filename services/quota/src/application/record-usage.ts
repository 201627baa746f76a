import { AppError, unavailable } from "@tessera/platform";
import type { CounterChange } from "../domain/ports.ts";
import type { TenantLimitSettings } from "../domain/limits.ts";
import { dayOf } from "../domain/quota-day.ts";
import { usageEffect, validateUsageRecord, type UsageRecord } from "../domain/usage.ts";
import type { QuotaContext } from "./quota-context.ts";

export type RecordOutcome = "applied" | "duplicate";

/** Users whose counters are seeded from their rollups at once (one read and one script each). */
const SEED_CONCURRENCY = 16;

/** A batch counted in the live counters, on its way to the rollups. */
export interface CountedBatch {
  /** Per event, in order: "applied", "duplicate", or a 422 error (invalid event, never counted). */
  results: Array<RecordOutcome | AppError>;
  /**
   * Resolves once everything the batch counted is in the rollups (acknowledge the deliveries
   * then). Rejects when that failed (503 for an outage, or when Redis lost the journal with what
   * the batch counted): nothing may be acknowledged, and counting the batch again is safe.
   */
  written: Promise<void>;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  // Whoever waits for it sees the failure; nobody waiting is not an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * Counts usage events exactly once, in two stages that overlap:
 *
 * 1. **Counting** (one batch at a time): one pipelined round trip to the live counters applies
 *    each event unless its usage key was counted before (settling its reservation) and, in the
 *    same script, adds what it counts to the journal being filled. Counting and journaling cannot
 *    come apart. The counters (and so quota checks) see the batch as soon as this returns.
 * 2. **Writing** (one journal at a time, in order): the journal being filled is sealed between
 *    two batches and written to the rollups, one upsert per user-day guarded by the journal id,
 *    then closed. While one journal is written the next batches fill the next journal, so under
 *    load a journal covers many batches and MongoDB sees one upsert per user-day per write, not
 *    per batch or per event.
 *
 * The caller acknowledges a batch's deliveries only once its `written` resolves, so a crash
 * anywhere means a redelivery the counters recognise, and a journal the next write takes up
 * (again, harmlessly: the rollup guard knows its last journal). Journals a crashed process left
 * behind are written first.
 */
export function recordUsageBatch(context: QuotaContext) {
  const { counters, rollups } = context.ports;

  // Each stage runs one piece of work at a time.
  const serial = () => {
    let queue: Promise<unknown> = Promise.resolve();
    return <T>(work: () => Promise<T> | T): Promise<T> => {
      const run = queue.then(work);
      queue = run.catch(() => undefined);
      return run;
    };
  };
  const counting = serial();
  const writing = serial();

  interface OwnJournal {
    id: string;
    written: Deferred;
  }
  /** The journal batches are counted into now (opened by the first batch after a seal). */
  let filling: OwnJournal | null = null;
  /** Journals sealed (no batch counts into them any more) and not yet written, oldest first. */
  let sealed: OwnJournal[] = [];
  /** Ids of this process's journals not yet written or given up: the filling one, the sealed ones. */
  const own = new Set<string>();

  /** Called between batches only (inside `counting`). */
  const seal = () => {
    if (filling) sealed.push(filling);
    filling = null;
  };

  /**
   * Writes every journal sealed so far, oldest first, and any left by a crash before them; the
   * journal being filled, and anything opened after it, waits for the next write.
   */
  const writeSealed = async () => {
    const batch = sealed;
    sealed = [];
    const waiting = new Map(batch.map((journal) => [journal.id, journal]));
    const giveUp = (error: unknown) => {
      for (const journal of waiting.values()) {
        // Still pending in Redis (if Redis has it): whichever write comes next takes it up.
        own.delete(journal.id);
        journal.written.reject(error);
      }
    };
    try {
      const ids = await counters.pendingJournalIds();
      for (const id of ids) {
        if (own.has(id) && !waiting.has(id)) break;
        await rollups.applyJournal(await counters.readJournal(id));
        await counters.closeJournal(id);
        own.delete(id);
        waiting.get(id)?.written.resolve();
        waiting.delete(id);
      }
    } catch (error) {
      giveUp(error);
      throw error;
    }
    // A sealed journal Redis no longer lists means Redis lost its data meanwhile (with what was
    // counted into it): the batches in it are counted again from the rollups when retried.
    if (waiting.size > 0) giveUp(unavailable("The quota counter store (it lost a journal)"));
  };

  let writer: Promise<void> | null = null;
  let writeAgain = false;
  let lastWriteAt = 0;
  const writeIntervalMs = context.options.rollupWriteIntervalMs ?? 0;
  /**
   * Seals the filling journal and writes it; while a write runs, the next one follows it, and not
   * sooner than the write interval after it (at 50 events/s one write per event would otherwise
   * cost a rollup upsert per event).
   */
  const requestWrite = () => {
    writeAgain = true;
    writer ??= (async () => {
      while (writeAgain) {
        const wait = lastWriteAt + writeIntervalMs - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        lastWriteAt = Date.now();
        writeAgain = false;
        await counting(seal);
        await writing(writeSealed).catch(() => undefined); // the failure went to the batches waiting for it
      }
      writer = null;
    })();
  };

  /** The journal of the batch being counted (inside `counting`). */
  const fillingJournal = async (): Promise<OwnJournal> => {
    if (!filling) {
      const id = await counters.openJournal();
      own.add(id);
      filling = { id, written: deferred() };
    }
    return filling;
  };

  const count = async (records: UsageRecord[]): Promise<CountedBatch> => {
    const results: Array<RecordOutcome | AppError> = [];
    const valid: Array<{ slot: number; record: UsageRecord }> = [];
    // Settings once per tenant of the batch, all awaited together (not one await per event).
    const settingsByTenant = new Map<string, Promise<TenantLimitSettings>>();
    for (let slot = 0; slot < records.length; slot += 1) {
      try {
        const record = validateUsageRecord(records[slot]!);
        if (!settingsByTenant.has(record.tenantId)) settingsByTenant.set(record.tenantId, context.settingsOf(record.tenantId));
        valid.push({ slot, record });
        results.push("applied");
      } catch (error) {
        if (!(error instanceof AppError) || error.code !== "invalid_event") throw error;
        results.push(error);
      }
    }
    const tenants = [...settingsByTenant.keys()];
    const settingsList = await Promise.all(settingsByTenant.values());
    const timeZoneOf = new Map(tenants.map((tenantId, index) => [tenantId, settingsList[index]!.timeZone]));
    // Counter lifetimes once per time zone and day of the batch, not per event.
    const ttlByDay = new Map<string, number>();
    let [lastZone, lastDay, lastTtl] = ["", "", 0];
    const changes: Array<{ slot: number; change: CounterChange; timeZone: string }> = [];
    for (const { slot, record } of valid) {
      const timeZone = timeZoneOf.get(record.tenantId)!;
      const key = { tenantId: record.tenantId, userId: record.userId, day: dayOf(record.occurredAt, timeZone) };
      let ttlSeconds = lastTtl;
      if (timeZone !== lastZone || key.day !== lastDay) {
        const dayId = `${timeZone}|${key.day}`;
        ttlSeconds = ttlByDay.get(dayId) ?? context.counterTtlSeconds(key.day, timeZone);
        ttlByDay.set(dayId, ttlSeconds);
        [lastZone, lastDay, lastTtl] = [timeZone, key.day, ttlSeconds];
      }
      const change: CounterChange = { key, effect: usageEffect(record), reservationId: record.reservationId, ttlSeconds };
      changes.push({ slot, change, timeZone });
    }

    const journals: OwnJournal[] = [];
    let todo = changes;
    for (let attempt = 0; todo.length > 0; attempt += 1) {
      if (attempt === 3) throw new AppError("internal", 500, "live counters could not be initialised", { expose: false });
      const journal = await fillingJournal();
      if (!journals.includes(journal)) journals.push(journal);
      const outcomes = await counters.applyBatch(
        journal.id,
        todo.map(({ change }) => change),
      );
      const missing: typeof todo = [];
      outcomes.forEach((outcome, index) => {
        const item = todo[index]!;
        if (outcome === "missing") missing.push(item);
        else results[item.slot] = outcome;
      });
      todo = missing;
      if (missing.length === 0) break;
      // Counters missing for a day (new day, expired, Redis lost them) are seeded from the rollup,
      // once everything counted so far is in it; then those events (in their order) are applied again.
      seal();
      await writing(writeSealed);
      await Promise.all(journals.map((counted) => counted.written.promise));
      const toSeed = new Map<string, { key: CounterChange["key"]; timeZone: string }>();
      for (const { change, timeZone } of missing) toSeed.set(`${change.key.tenantId}/${change.key.userId}/${change.key.day}`, { key: change.key, timeZone });
      // A few at a time: the first batch of a day seeds every user in it.
      const queue = [...toSeed.values()];
      const seed = async () => {
        for (let next = queue.shift(); next; next = queue.shift()) await context.ensureCounters(next.key, next.timeZone);
      };
      await Promise.all(Array.from({ length: Math.min(SEED_CONCURRENCY, queue.length) }, seed));
    }
    return { results, written: Promise.all(journals.map((journal) => journal.written.promise)).then(() => undefined) };
  };

  return {
    /** Counts a batch; see CountedBatch. An outage while counting rejects (503) with nothing counted durably. */
    count: async (records: UsageRecord[]): Promise<CountedBatch> => {
      const counted = await counting(() => count(records));
      requestWrite();
      return counted;
    },
  };
}

/** One event (the batch of one), resolved once it is in the rollups: "applied", "duplicate", or thrown 422 / 503. */
export function recordUsage(batch: ReturnType<typeof recordUsageBatch>) {
  return async (record: UsageRecord): Promise<RecordOutcome> => {
    const { results, written } = await batch.count([record]);
    const [result] = results;
    if (result instanceof AppError) throw result;
    await written;
    return result!;
  };
}
