import type { Caller } from "@tessera/platform";
import type { Limits, QuotaUser, TenantLimitSettings } from "./limits.ts";
import type { Day } from "./quota-day.ts";
import type { DayUsage, ModelUsage, UsageEffect, UsageRecord, UsageSource, UserDay } from "./usage.ts";

export interface CounterValues {
  messages: number;
  tokens: number;
}

export type ReserveOutcome = { kind: "missing" } | { kind: "reserved" | "already_reserved" | "refused"; used: CounterValues };

/** A reservation being held: one message and its estimated tokens. */
export interface ReservationRequest {
  id: string;
  expiresAt: Date;
  estimatedTokens: number;
  /** The model and source of the send, kept with the reservation so an expiry charge names them. */
  model: string;
  source: UsageSource | "";
}

/** One event as the live counters apply it. */
export interface CounterChange {
  key: UserDay;
  effect: UsageEffect;
  /** The reservation it settles: with the event id, what makes its `usageKey` (what a second copy is recognised by). */
  reservationId: string | null;
  ttlSeconds: number;
}

/** A reservation past its expiry, claimed for a while by the replica that charges it. */
export interface ExpiredReservation {
  tenantId: string;
  userId: string;
  reservationId: string;
  estimatedTokens: number;
  /** The quota day it was made on. */
  day: Day;
  /** As the reservation named them ("" when it did not, or was made by an earlier version). */
  model: string;
  source: string;
}

/** What one flush adds to one user-day rollup. */
export interface RollupDelta {
  key: UserDay;
  messages: number;
  tokens: number;
  byModel: Record<string, { messages: number; tokens: number }>;
  /** Usage keys of the events in this flush (kept as the rollup's `recentKeys`). */
  usageKeys: string[];
}

/** Counted events not yet in the durable rollups, in the order they must be written. */
export interface Journal {
  id: string;
  deltas: RollupDelta[];
}

/**
 * Live per-user-day counters (Redis). Every operation is atomic; "missing" means the day's
 * counters are not there (never started, expired or flushed) and must be initialised first.
 * Used tokens include the estimates of pending reservations.
 */
export interface LiveCounters {
  /** The day's counters; null when missing. */
  read(key: UserDay): Promise<CounterValues | null>;
  /** The day's settled usage per model (what the rollup holds once the journals are written); null when missing. */
  readUsage(key: UserDay): Promise<DayUsage | null>;
  /** Seeds the counters and the recently counted usage keys from durable usage, unless present already. */
  initialize(key: UserDay, usage: DayUsage, ttlSeconds: number): Promise<void>;
  /**
   * Holds one message and the estimated tokens unless the user is at a limit (tokens counted
   * with every pending estimate, so parallel sends overshoot the cap by at most one estimate).
   */
  reserve(key: UserDay, reservation: ReservationRequest, limits: Limits, now: Date, ttlSeconds: number): Promise<ReserveOutcome>;
  /** Gives a pending reservation back; false when it was not pending. */
  release(user: Omit<UserDay, "day">, reservationId: string): Promise<boolean>;
  /** Starts a journal: the events counted next are recorded in it until it is written to the rollups. */
  openJournal(): Promise<string>;
  /**
   * Counts each event once, in order (settling its reservation: the estimate is replaced by the
   * real usage) and records what it adds in the journal: one round trip for the batch.
   */
  applyBatch(journalId: string, changes: CounterChange[]): Promise<Array<"applied" | "duplicate" | "missing">>;
  /** Ids of the journals not yet written to the rollups, oldest first. */
  pendingJournalIds(): Promise<string[]>;
  /** What a journal's events add, per user-day. */
  readJournal(journalId: string): Promise<Journal>;
  closeJournal(journalId: string): Promise<void>;
  /** Claims up to `limit` reservations past their expiry for `leaseMs` (claimed again if not settled by then). */
  claimExpired(now: Date, leaseMs: number, limit: number): Promise<ExpiredReservation[]>;
}

export interface UserDayRow extends UserDay {
  messages: number;
  tokens: number;
}

/** Durable daily rollups (MongoDB): one record per user and day. */
export interface UsageRollups {
  /** Adds a journal's deltas, one upsert per user-day; writing the same journal again changes nothing. */
  applyJournal(journal: Journal): Promise<void>;
  /** The day's usage (zero when nothing was recorded). */
  read(key: UserDay): Promise<DayUsage>;
  /** Days of a user within an inclusive range that have usage. */
  series(tenantId: string, userId: string, from: Day, to: Day): Promise<Array<{ day: Day; usage: DayUsage }>>;
  /** A page of a tenant's day, ordered by user id. */
  dayPage(tenantId: string, day: Day, limit: number, afterUserId: string | null): Promise<{ rows: UserDayRow[]; hasMore: boolean }>;
  dayTotals(tenantId: string, day: Day): Promise<CounterValues>;
  /** Usage per model of a tenant over an inclusive range of days. */
  modelTotals(tenantId: string, from: Day, to: Day): Promise<Map<string, ModelUsage>>;
  /** Every rollup of the given days, whole (for rebuilding live counters without reading each again). */
  rowsOfDays(days: Day[]): AsyncIterable<UserDay & { usage: DayUsage }>;
}

/** Where quota's charges of expired reservations go: the usage event stream, like any completion's. */
export interface UsageEventSink {
  /** Resolves once the broker confirmed the event. */
  publish(record: UsageRecord): Promise<void>;
}

/** Tenant limits and time zone (the admin service owns them; quota only reads). */
export interface TenantSettingsRepository {
  /** The tenant's settings, or the defaults when it never changed them. */
  get(tenantId: string): Promise<TenantLimitSettings>;
}

export interface UserDirectory {
  get(tenantId: string, userId: string): Promise<QuotaUser | null>;
}

/** Who a call acts for (the platform's one Caller), from its bearer token. */
export type { Caller };
export { requireAdmin } from "@tessera/platform";

export interface CallerVerifier {
  verify(bearerToken: string | undefined): Promise<Caller>;
}

/** What operators must see: counter-store outages (metric + log line). */
export interface QuotaObserver {
  countersUnavailable(operation: string, failOpen: boolean, error: unknown): void;
}
