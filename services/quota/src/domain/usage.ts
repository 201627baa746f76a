import { AppError } from "@tessera/platform";
import type { Day } from "./quota-day.ts";

export type UsageSource = "web" | "api";
/** "expired": quota's own charge of a reservation nobody settled (the sending process died). */
export type UsageOutcome = "complete" | "aborted" | "failed" | "expired";

/** One finished (or aborted, or failed) completion, as chat reports it. */
export interface UsageRecord {
  eventId: string;
  occurredAt: Date;
  tenantId: string;
  schemaVersion: number;
  userId: string;
  chatId: string;
  messageId: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  source: UsageSource;
  outcome: UsageOutcome;
  /** The CheckAndReserve reservation this completion used, if any. */
  reservationId: string | null;
}

/** What an event adds to a day. */
export interface UsageEffect {
  eventId: string;
  model: string;
  messages: number;
  tokens: number;
}

/**
 * What makes two events the same usage: the reservation they settle (a completion's own event and
 * quota's charge of its expired reservation are one usage, whichever comes first counts), else
 * the event id.
 */
export const usageKey = (record: Pick<UsageRecord, "eventId" | "reservationId">): string =>
  record.reservationId ? `r:${record.reservationId}` : `e:${record.eventId}`;

/** Whose counters, which day. */
export interface UserDay {
  tenantId: string;
  userId: string;
  day: Day;
}

export interface ModelUsage {
  messages: number;
  tokens: number;
}

/**
 * Usage of one user on one day, with the usage keys of the last flush that changed it (the only
 * events whose acknowledgement can still be outstanding, so the only ones a redelivery can bring
 * back after the live counters were lost).
 */
export interface DayUsage {
  messages: number;
  tokens: number;
  byModel: Record<string, ModelUsage>;
  recentKeys: string[];
}

export const SUPPORTED_SCHEMA_VERSIONS = [1];
const UNKNOWN_MODEL = "unknown";

/** An event that can never be processed (it goes to the dead-letter queue, not back to the queue). */
export const invalidEvent = (message: string) => new AppError("invalid_event", 422, message);

const isCount = (value: number) => Number.isSafeInteger(value) && value >= 0;
const NOT_IN_IDS = /[/|{}]/;
// Checked for every event: sets made once, not arrays per call.
const SOURCES = new Set<string>(["web", "api"] satisfies UsageSource[]);
const OUTCOMES = new Set<string>(["complete", "aborted", "failed", "expired"] satisfies UsageOutcome[]);

/** Rejects events that would corrupt counters; everything else is counted. */
export function validateUsageRecord(record: UsageRecord): UsageRecord {
  if (!record.eventId || !record.tenantId || !record.userId) throw invalidEvent("eventId, tenantId and payload.userId are required");
  // They make up keys and ids ("<tenant>/<user>/<day>", "<tenant>|<user>|…", the {tenant:user} hash tag).
  if (NOT_IN_IDS.test(record.tenantId) || NOT_IN_IDS.test(record.userId)) throw invalidEvent("tenantId and payload.userId must not contain / | { }");
  if (!SUPPORTED_SCHEMA_VERSIONS.includes(record.schemaVersion)) throw invalidEvent(`unsupported schema version ${record.schemaVersion}`);
  if (Number.isNaN(record.occurredAt.getTime())) throw invalidEvent("occurredAt is not an ISO 8601 time");
  if (!isCount(record.promptTokens) || !isCount(record.completionTokens) || !isCount(record.totalTokens))
    throw invalidEvent("token counts must be whole numbers from 0 upwards");
  if (!SOURCES.has(record.source)) throw invalidEvent(`unknown source "${record.source}"`);
  if (!OUTCOMES.has(record.outcome)) throw invalidEvent(`unknown outcome "${record.outcome}"`);
  return record;
}

/**
 * What one event counts: every token the upstream used, and one message unless the completion
 * failed (an aborted answer was delivered in part and counts, SPEC §6).
 */
export function usageEffect(record: UsageRecord): UsageEffect {
  const tokens = record.totalTokens > 0 ? record.totalTokens : record.promptTokens + record.completionTokens;
  return { eventId: record.eventId, model: record.model || UNKNOWN_MODEL, messages: record.outcome === "failed" ? 0 : 1, tokens };
}

export const emptyDayUsage = (): DayUsage => ({ messages: 0, tokens: 0, byModel: {}, recentKeys: [] });
