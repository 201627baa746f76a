import { AppError, newUuid } from "@tessera/platform";
import type { Caller, ReservationRequest } from "../domain/ports.ts";
import type { QuotaContext, QuotaStatus } from "./quota-context.ts";

/** 429 with what the client needs to tell the user: limits, usage and when the day resets. */
export function quotaExceeded(status: QuotaStatus, now: Date): AppError {
  const which = status.used.messages >= status.limits.messages ? "messages" : "tokens";
  return new AppError("quota_exceeded", 429, `You have used today's ${which} allowance; it resets at ${status.resetAt.toISOString()}.`, {
    retryAfterSeconds: Math.max(1, Math.ceil((status.resetAt.getTime() - now.getTime()) / 1000)),
    extensions: {
      limits: { messages: status.limits.messages, tokens: status.limits.tokens },
      used: { messages: status.used.messages, tokens: status.used.tokens },
      resetAt: status.resetAt.toISOString(),
    },
  });
}

/**
 * Reserves one message and the send's estimated tokens before a send: one script in the counter
 * store (limits come from the cache), so with one message left exactly one of many simultaneous
 * sends passes, and tokens held by pending sends count against the cap, which parallel sends
 * therefore overshoot by at most one estimate. Repeating a reservation id is answered from the
 * first reservation.
 */
export function checkAndReserve(context: QuotaContext) {
  return async (
    caller: Caller,
    reservationId: string,
    estimatedTokens = 0,
    send: { model?: string; source?: string } = {},
  ): Promise<{ reservationId: string; status: QuotaStatus }> => {
    const subject = await context.subjectOf(caller.tenantId, caller.userId);
    const id = reservationId || newUuid();
    const reservation: ReservationRequest = {
      id,
      expiresAt: new Date(subject.now.getTime() + context.options.reservationTtlSeconds * 1000),
      estimatedTokens: Math.max(0, Math.floor(estimatedTokens)),
      model: send.model ?? "",
      source: send.source === "web" || send.source === "api" ? send.source : caller.kind === "apiKey" ? "api" : "web",
    };
    const ttl = context.counterTtlSeconds(subject.key.day, subject.settings.timeZone);
    const statusWith = (used: QuotaStatus["used"]): QuotaStatus => ({
      day: subject.key.day,
      limits: subject.limits,
      used,
      resetAt: subject.resetAt,
      premium: subject.premium,
    });

    const reserve = async () => {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const outcome = await context.ports.counters.reserve(subject.key, reservation, subject.limits, subject.now, ttl);
        if (outcome.kind === "missing") {
          await context.ensureCounters(subject.key, subject.settings.timeZone);
          continue;
        }
        if (outcome.kind === "refused") throw quotaExceeded(statusWith(outcome.used), subject.now);
        return { reservationId: id, status: statusWith(outcome.used) };
      }
      throw new AppError("internal", 500, "quota counters could not be initialised", { expose: false });
    };

    // Fail open only when configured: the send goes ahead, judged by the durable usage alone.
    const failOpen = context.options.failOpen
      ? async () => {
          const usage = await context.ports.rollups.read(subject.key);
          return { reservationId: id, status: statusWith({ messages: usage.messages, tokens: usage.tokens }) };
        }
      : undefined;
    return context.withCounters("reserve", reserve, failOpen);
  };
}
