import { forbidden } from "@tessera/platform";
import type { Limits, QuotaUser, TenantLimitSettings } from "./limits.ts";
import type { Day } from "./quota-day.ts";
import type { DayUsage, ModelUsage, UsageEffect, UserDay } from "./usage.ts";

export interface CounterValues {
  messages: number;
  tokens: number;
}

export type ReserveOutcome = { kind: "missing" } | { kind: "reserved" | "already_reserved" | "refused"; used: CounterValues };

/**
 * Live per-user-day counters (Redis). Every operation is atomic; "missing" means the day's
 * counters are not there (never started, expired or flushed) and must be initialised first.
 */
export interface LiveCounters {
  /** The day's counters (reservations past their expiry given back first); null when missing. */
  read(key: UserDay, now: Date): Promise<CounterValues | null>;
  /** Seeds the counters and the set of counted events from durable usage, unless present already. */
  initialize(key: UserDay, usage: DayUsage, ttlSeconds: number): Promise<void>;
  /** Counts one message against the limits unless the user is at one; holds it until settled, released or expired. */
  reserve(key: UserDay, reservation: { id: string; expiresAt: Date }, limits: Limits, now: Date, ttlSeconds: number): Promise<ReserveOutcome>;
  /** Gives a pending reservation back; false when it was not pending. */
  release(user: Omit<UserDay, "day">, reservationId: string): Promise<boolean>;
  /** Counts an event once (settling its reservation); "duplicate" when it was counted before. */
  apply(key: UserDay, effect: UsageEffect, reservationId: string | null, ttlSeconds: number): Promise<"applied" | "duplicate" | "missing">;
}

export interface UserDayRow extends UserDay {
  messages: number;
  tokens: number;
}

/** Durable daily rollups (MongoDB): one record per user and day holding the ids of its events. */
export interface UsageRollups {
  /** Adds an event to its day unless the day already holds it. */
  record(key: UserDay, effect: UsageEffect): Promise<"applied" | "duplicate">;
  /** The day's usage (zero when nothing was recorded). */
  read(key: UserDay): Promise<DayUsage>;
  /** Days of a user within an inclusive range that have usage. */
  series(tenantId: string, userId: string, from: Day, to: Day): Promise<Array<{ day: Day; usage: DayUsage }>>;
  /** A page of a tenant's day, ordered by user id. */
  dayPage(tenantId: string, day: Day, limit: number, afterUserId: string | null): Promise<{ rows: UserDayRow[]; hasMore: boolean }>;
  dayTotals(tenantId: string, day: Day): Promise<CounterValues>;
  /** Usage per model of a tenant over an inclusive range of days. */
  modelTotals(tenantId: string, from: Day, to: Day): Promise<Map<string, ModelUsage>>;
  /** Every rollup of the given days (for rebuilding live counters). */
  rowsOfDays(days: Day[]): AsyncIterable<UserDayRow>;
}

/** Tenant limits and time zone (the admin service owns them; quota only reads). */
export interface TenantSettingsRepository {
  /** The tenant's settings, or the defaults when it never changed them. */
  get(tenantId: string): Promise<TenantLimitSettings>;
}

export interface UserDirectory {
  get(tenantId: string, userId: string): Promise<QuotaUser | null>;
}

/** Who a call acts for, from its bearer token. */
export interface Caller {
  userId: string;
  tenantId: string;
  role: "user" | "admin";
}

export interface CallerVerifier {
  verify(bearerToken: string | undefined): Promise<Caller>;
}

/** What operators must see: counter-store outages (metric + log line). */
export interface QuotaObserver {
  countersUnavailable(operation: string, failOpen: boolean, error: unknown): void;
}

/** Admin reads and settings: role admin, and always the caller's own tenant. */
export function requireAdmin(caller: Caller): void {
  if (caller.role !== "admin") throw forbidden("Only administrators can do this.");
}
