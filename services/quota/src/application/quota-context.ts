import { AppError, notFound, unavailable, type Clock } from "@tessera/platform";
import { resolveLimits, isPremium, type Limits, type QuotaUser, type TenantLimitSettings } from "../domain/limits.ts";
import { dayOf, endOfDay, resetAt, type Day } from "../domain/quota-day.ts";
import type { UserDay } from "../domain/usage.ts";
import type { CounterValues, LiveCounters, QuotaObserver, TenantSettingsRepository, UsageRollups, UserDirectory } from "../domain/ports.ts";

export interface QuotaPorts {
  counters: LiveCounters;
  rollups: UsageRollups;
  settings: TenantSettingsRepository;
  users: UserDirectory;
  observer: QuotaObserver;
  clock: Clock;
}

export interface QuotaOptions {
  /** When the counter store is unreachable: refuse sends (false, the default) or let them through. */
  failOpen: boolean;
  /** How long a reservation is held when neither its usage event nor a release arrives. */
  reservationTtlSeconds: number;
  /**
   * Least time between two writes of counted usage to the rollups (0: write as soon as counted).
   * Counters are live at once either way; this only bounds the document writes at low event rates.
   */
  rollupWriteIntervalMs?: number;
}

/** Where a user stands today. */
export interface QuotaStatus {
  day: Day;
  limits: Limits;
  used: CounterValues;
  resetAt: Date;
  premium: boolean;
}

// Counters are kept two days past their reset so late events and admins' "yesterday" stay cheap.
const COUNTER_GRACE_SECONDS = 2 * 86_400;
const MIN_COUNTER_TTL_SECONDS = 3_600;

/**
 * Shared steps of the quota use cases: settings and users (the ports answer from the platform
 * cache, kept exact by broadcasts), days, counters.
 */
export function createQuotaContext(ports: QuotaPorts, options: QuotaOptions) {
  // Read on every call (one Redis GET): a settings change applies to the very next request.
  const settingsOf = (tenantId: string): Promise<TenantLimitSettings> => ports.settings.get(tenantId);

  const userOf = async (tenantId: string, userId: string): Promise<QuotaUser> => {
    const user = await ports.users.get(tenantId, userId);
    if (!user) throw notFound("user");
    return user;
  };

  /** Seconds the counters of a day are kept in the live store. */
  const counterTtlSeconds = (day: Day, timeZone: string): number => {
    const end = endOfDay(day, timeZone).getTime();
    return Math.max(MIN_COUNTER_TTL_SECONDS, Math.ceil((end - ports.clock.now().getTime()) / 1000) + COUNTER_GRACE_SECONDS);
  };

  /** Restores a day's live counters from the durable rollup when they are missing (flushed, expired, new day). */
  const ensureCounters = async (key: UserDay, timeZone: string): Promise<void> => {
    const usage = await ports.rollups.read(key);
    await ports.counters.initialize(key, usage, counterTtlSeconds(key.day, timeZone));
  };

  const isCounterOutage = (error: unknown) => error instanceof AppError && error.status === 503;

  /** Runs a counter operation; an outage of the counter store is reported and turned into 503. */
  const withCounters = async <T>(operation: string, run: () => Promise<T>, fallback?: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      if (!isCounterOutage(error)) throw error;
      const open = fallback !== undefined;
      ports.observer.countersUnavailable(operation, open, error);
      if (fallback) return fallback();
      throw unavailable("Quota accounting", error);
    }
  };

  /** The subject's limits, day and reset time now. */
  const subjectOf = async (tenantId: string, userId: string) => {
    const [user, settings] = await Promise.all([userOf(tenantId, userId), settingsOf(tenantId)]);
    const now = ports.clock.now();
    return {
      user,
      settings,
      now,
      key: { tenantId, userId, day: dayOf(now, settings.timeZone) } satisfies UserDay,
      limits: resolveLimits(user, settings, now),
      resetAt: resetAt(now, settings.timeZone),
      premium: isPremium(user, now),
    };
  };

  return {
    ports,
    options,
    settingsOf,
    userOf,
    counterTtlSeconds,
    ensureCounters,
    withCounters,
    subjectOf,
  };
}

export type QuotaContext = ReturnType<typeof createQuotaContext>;
