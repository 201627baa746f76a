import type { Caller } from "../domain/ports.ts";
import type { QuotaContext, QuotaStatus } from "./quota-context.ts";

/** Today's usage and limits of the caller; reads fall back to the durable rollup when the counter store is down. */
export function getQuota(context: QuotaContext) {
  return async (caller: Caller): Promise<QuotaStatus> => {
    const subject = await context.subjectOf(caller.tenantId, caller.userId);
    const read = async () => {
      let used = await context.ports.counters.read(subject.key);
      if (!used) {
        await context.ensureCounters(subject.key, subject.settings.timeZone);
        used = (await context.ports.counters.read(subject.key)) ?? { messages: 0, tokens: 0 };
      }
      return used;
    };
    const durable = async () => {
      const usage = await context.ports.rollups.read(subject.key);
      return { messages: usage.messages, tokens: usage.tokens };
    };
    const used = await context.withCounters("read", read, durable);
    return { day: subject.key.day, limits: subject.limits, used, resetAt: subject.resetAt, premium: subject.premium };
  };
}
