import { validationFailed } from "@tessera/platform";

/** A quota day is a calendar date (YYYY-MM-DD) in the tenant's time zone. */
export type Day = string;

const DAY_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    // en-CA formats as YYYY-MM-DD.
    formatter = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

function formatDay(epochMs: number, timeZone: string): Day {
  return formatterFor(timeZone).format(epochMs);
}

// The last day looked up per time zone with its bounds: nearly every call (each usage event,
// each quota check) falls on it, and then costs two comparisons instead of an Intl format.
const lastDay = new Map<string, { day: Day; from: number; to: number }>();

/** The calendar date of an instant in a time zone. */
export function dayOf(instant: Date, timeZone: string): Day {
  const epochMs = instant.getTime();
  const last = lastDay.get(timeZone);
  if (last && epochMs >= last.from && epochMs < last.to) return last.day;
  const day = formatDay(epochMs, timeZone);
  if (Number.isFinite(epochMs)) lastDay.set(timeZone, { day, from: startOfDay(day, timeZone).getTime(), to: startOfDay(addDays(day, 1), timeZone).getTime() });
  return day;
}

export function isDay(value: string): boolean {
  const match = DAY_PATTERN.exec(value);
  if (!match) return false;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return date.toISOString().slice(0, 10) === value;
}

/** The calendar date `days` after (or before) a date. */
export function addDays(day: Day, days: number): Day {
  const [year, month, date] = day.split("-").map(Number) as [number, number, number];
  return new Date(Date.UTC(year, month - 1, date + days)).toISOString().slice(0, 10);
}

/** Whole days from `from` to `to` (0 when equal). */
export function daysBetween(from: Day, to: Day): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/**
 * The first instant of a day in a time zone. Found by bisection over minutes rather than from an
 * offset, so days that start at 01:00 (DST switching at midnight) and odd offsets come out right.
 */
export function startOfDay(day: Day, timeZone: string): Date {
  const key = `${timeZone}|${day}`;
  let start = dayStarts.get(key);
  if (start === undefined) {
    start = searchStartOfDay(day, timeZone);
    // Bounded: a few days per time zone are ever asked for at a time.
    if (dayStarts.size >= 10_000) dayStarts.clear();
    dayStarts.set(key, start);
  }
  return new Date(start);
}

const dayStarts = new Map<string, number>();

function searchStartOfDay(day: Day, timeZone: string): number {
  const utcMidnight = Date.parse(`${day}T00:00:00Z`);
  // Every real offset lies within ±15 h; the local date is non-decreasing over this window.
  let low = Math.floor((utcMidnight - 15 * 3_600_000) / 60_000);
  let high = Math.floor((utcMidnight + 15 * 3_600_000) / 60_000);
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (formatDay(middle * 60_000, timeZone) >= day) high = middle;
    else low = middle + 1;
  }
  return low * 60_000;
}

/** The first instant after a day (the next day's start), memoised like startOfDay. */
export function endOfDay(day: Day, timeZone: string): Date {
  const last = lastDay.get(timeZone);
  if (last && last.day === day) return new Date(last.to);
  return startOfDay(addDays(day, 1), timeZone);
}

/** When the quota day containing `now` ends: the next local midnight. */
export function resetAt(now: Date, timeZone: string): Date {
  return endOfDay(dayOf(now, timeZone), timeZone);
}

export const MAX_RANGE_DAYS = 366;
export const DEFAULT_RANGE_DAYS = 30;

/** Validates a from/to range of days (inclusive); empty ends default to the last 30 days. */
export function dayRange(from: string, to: string, today: Day): { from: Day; to: Day } {
  const end = to === "" ? today : to;
  const start = from === "" ? addDays(end, -(DEFAULT_RANGE_DAYS - 1)) : from;
  const errors = [];
  if (!isDay(start)) errors.push({ field: "from", message: "Use a date as YYYY-MM-DD." });
  if (!isDay(end)) errors.push({ field: "to", message: "Use a date as YYYY-MM-DD." });
  if (errors.length === 0 && daysBetween(start, end) < 0) errors.push({ field: "from", message: "from must not be after to." });
  if (errors.length === 0 && daysBetween(start, end) >= MAX_RANGE_DAYS)
    errors.push({ field: "to", message: `Ask for at most ${MAX_RANGE_DAYS} days at once.` });
  if (errors.length > 0) throw validationFailed(errors);
  return { from: start, to: end };
}

/** Every day of an inclusive range. */
export function eachDay(from: Day, to: Day): Day[] {
  const days: Day[] = [];
  for (let day = from; day <= to; day = addDays(day, 1)) days.push(day);
  return days;
}
