import { dayOf, dayRange, eachDay, type Day } from "../domain/quota-day.ts";
import { requireAdmin, type Caller, type UserDayRow } from "../domain/ports.ts";
import type { ModelUsage } from "../domain/usage.ts";
import type { QuotaContext } from "./quota-context.ts";

export interface UsageDayView {
  date: Day;
  messages: number;
  tokens: number;
  byModel: Array<{ model: string } & ModelUsage>;
}

/**
 * A daily series (every day of the range, zeros included, per model) of the caller's own usage,
 * or of another user of the caller's tenant when the caller is an admin.
 */
export function getUsage(context: QuotaContext) {
  return async (caller: Caller, request: { userId: string; from: string; to: string; asAdmin?: boolean }): Promise<UsageDayView[]> => {
    const userId = request.userId || caller.userId;
    if (userId !== caller.userId || request.asAdmin) {
      requireAdmin(caller);
      await context.userOf(caller.tenantId, userId);
    }
    const settings = await context.settingsOf(caller.tenantId);
    const today = dayOf(context.ports.clock.now(), settings.timeZone);
    const range = dayRange(request.from, request.to, today);
    const stored = new Map((await context.ports.rollups.series(caller.tenantId, userId, range.from, range.to)).map((entry) => [entry.day, entry.usage]));
    // Today from the live counters when they are there: they lead the rollup by the flush in
    // progress, so what the quota shows is what the series shows.
    if (range.from <= today && today <= range.to) {
      const live = await context.ports.counters.readUsage({ tenantId: caller.tenantId, userId, day: today }).catch(() => null);
      if (live) stored.set(today, live);
    }
    return eachDay(range.from, range.to).map((date) => {
      const usage = stored.get(date);
      return {
        date,
        messages: usage?.messages ?? 0,
        tokens: usage?.tokens ?? 0,
        byModel: Object.entries(usage?.byModel ?? {})
          .map(([model, counts]) => ({ model, ...counts }))
          .sort((a, b) => b.tokens - a.tokens || a.model.localeCompare(b.model)),
      };
    });
  };
}

export interface DayUsageView {
  date: Day;
  items: Array<UserDayRow & { username: string; email: string }>;
  nextCursor: string;
  totals: { messages: number; tokens: number };
}

export const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 50;

const encodeCursor = (userId: string) => Buffer.from(userId, "utf8").toString("base64url");
const decodeCursor = (cursor: string) => (cursor ? Buffer.from(cursor, "base64url").toString("utf8") : null);

/** Admins: every user's usage of the caller's tenant for a day, a page at a time, with the day's totals. */
export function getDayUsage(context: QuotaContext) {
  return async (caller: Caller, request: { date: string; limit: number; cursor: string }): Promise<DayUsageView> => {
    requireAdmin(caller);
    const settings = await context.settingsOf(caller.tenantId);
    const day = request.date || dayOf(context.ports.clock.now(), settings.timeZone);
    const { from: date } = dayRange(day, day, day);
    const limit = Math.min(MAX_PAGE_SIZE, request.limit > 0 ? request.limit : DEFAULT_PAGE_SIZE);
    const [page, totals] = await Promise.all([
      context.ports.rollups.dayPage(caller.tenantId, date, limit, decodeCursor(request.cursor)),
      context.ports.rollups.dayTotals(caller.tenantId, date),
    ]);
    const items = await Promise.all(
      page.rows.map(async (row) => {
        const user = await context.ports.users.get(caller.tenantId, row.userId).catch(() => null);
        return { ...row, username: user?.username ?? "", email: user?.email ?? "" };
      }),
    );
    const last = page.rows.at(-1);
    return { date, items, nextCursor: page.hasMore && last ? encodeCursor(last.userId) : "", totals };
  };
}

export interface ModelUsageView {
  from: Day;
  to: Day;
  items: Array<{ model: string } & ModelUsage>;
  nextCursor: string;
  totals: { messages: number; tokens: number };
}

/** Admins: the tenant's usage per model over a range (today included), most tokens first, a page at a time. */
export function getModelUsage(context: QuotaContext) {
  return async (caller: Caller, request: { from: string; to: string; limit: number; cursor: string }): Promise<ModelUsageView> => {
    requireAdmin(caller);
    const settings = await context.settingsOf(caller.tenantId);
    const range = dayRange(request.from, request.to, dayOf(context.ports.clock.now(), settings.timeZone));
    const totals = await context.ports.rollups.modelTotals(caller.tenantId, range.from, range.to);
    const all = [...totals.entries()].map(([model, usage]) => ({ model, ...usage })).sort((a, b) => b.tokens - a.tokens || a.model.localeCompare(b.model));
    const limit = Math.min(MAX_PAGE_SIZE, request.limit > 0 ? request.limit : DEFAULT_PAGE_SIZE);
    const offset = request.cursor ? Number.parseInt(decodeCursor(request.cursor) ?? "0", 10) || 0 : 0;
    const items = all.slice(offset, offset + limit);
    return {
      from: range.from,
      to: range.to,
      items,
      nextCursor: offset + limit < all.length ? encodeCursor(String(offset + limit)) : "",
      totals: all.reduce((sum, row) => ({ messages: sum.messages + row.messages, tokens: sum.tokens + row.tokens }), { messages: 0, tokens: 0 }),
    };
  };
}
