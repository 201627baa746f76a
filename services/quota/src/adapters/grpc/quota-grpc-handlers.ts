import type { QuotaServiceService, QuotaStatus as QuotaStatusMessage, LimitPair } from "@tessera/proto/tessera/quota/v1/quota";
import { forbidden, type ServiceHandlers } from "@tessera/platform";
import type { LimitOverrides } from "../../domain/limits.ts";
import type { Caller, CallerVerifier } from "../../domain/ports.ts";
import type { QuotaStatus } from "../../application/quota-context.ts";
import type { QuotaUseCases } from "../../application/quota-use-cases.ts";
import type { TenantLimitsView } from "../../application/tenant-limits.ts";

function toStatusMessage(status: QuotaStatus): QuotaStatusMessage {
  return {
    messages: { used: status.used.messages, limit: status.limits.messages },
    tokens: { used: status.used.tokens, limit: status.limits.tokens },
    resetAt: status.resetAt.toISOString(),
    premium: status.premium,
    day: status.day,
  };
}

const toPair = (pair: { messages: number | null; tokens: number | null }): LimitPair => ({
  ...(pair.messages !== null ? { messages: pair.messages } : {}),
  ...(pair.tokens !== null ? { tokens: pair.tokens } : {}),
});
const fromPair = (pair: LimitPair | undefined): LimitOverrides | undefined =>
  pair ? { messages: pair.messages ?? null, tokens: pair.tokens ?? null } : undefined;

const toTenantLimits = (view: TenantLimitsView) => ({
  tenantId: view.tenantId,
  defaultLimits: toPair(view.defaultLimits),
  premiumLimits: toPair(view.premiumLimits),
  timeZone: view.timeZone,
  effectiveDefaultLimits: toPair(view.effective.standard),
  effectivePremiumLimits: toPair(view.effective.premium),
});

/**
 * Thin translation between gRPC and the quota use cases. The acting user always comes from the
 * bearer token; ids in a request may only repeat the caller's own (tenant) ids.
 */
export function quotaGrpcHandlers(useCases: QuotaUseCases, callers: CallerVerifier): ServiceHandlers<typeof QuotaServiceService> {
  const callerOf = async (token: string | undefined, request: { tenantId?: string; userId?: string }, allowOtherUser = false): Promise<Caller> => {
    const caller = await callers.verify(token);
    if (request.tenantId && request.tenantId !== caller.tenantId) throw forbidden("You can only see your own tenant.");
    if (!allowOtherUser && request.userId && request.userId !== caller.userId) throw forbidden("You can only act for yourself.");
    return caller;
  };
  return {
    checkAndReserve: async (request, context) => {
      const caller = await callerOf(context.bearerToken, request);
      const reservation = await useCases.checkAndReserve(caller, request.reservationId);
      return { reservationId: reservation.reservationId, status: toStatusMessage(reservation.status) };
    },
    release: async (request, context) => toStatusMessage(await useCases.release(await callerOf(context.bearerToken, request), request.reservationId)),
    getQuota: async (request, context) => toStatusMessage(await useCases.getQuota(await callerOf(context.bearerToken, request))),
    getUsage: async (request, context) => {
      const caller = await callerOf(context.bearerToken, request, true);
      const days = await useCases.getUsage(caller, { userId: request.userId, from: request.from, to: request.to, asAdmin: request.asAdmin });
      return { days: days.map((day) => ({ date: day.date, messages: day.messages, tokens: day.tokens, byModel: day.byModel })) };
    },
    getDayUsage: async (request, context) => {
      const caller = await callerOf(context.bearerToken, request);
      const page = await useCases.getDayUsage(caller, { date: request.date, limit: request.limit, cursor: request.cursor });
      return {
        date: page.date,
        items: page.items.map((item) => ({ userId: item.userId, messages: item.messages, tokens: item.tokens, username: item.username, email: item.email })),
        nextCursor: page.nextCursor,
        totalMessages: page.totals.messages,
        totalTokens: page.totals.tokens,
      };
    },
    getTenantLimits: async (request, context) => toTenantLimits(await useCases.getTenantLimits(await callerOf(context.bearerToken, request))),
    updateTenantLimits: async (request, context) => {
      const caller = await callerOf(context.bearerToken, request);
      return toTenantLimits(
        await useCases.updateTenantLimits(caller, {
          ...(request.defaultLimits ? { defaultLimits: fromPair(request.defaultLimits)! } : {}),
          ...(request.premiumLimits ? { premiumLimits: fromPair(request.premiumLimits)! } : {}),
          ...(request.timeZone !== undefined ? { timeZone: request.timeZone } : {}),
        }),
      );
    },
  };
}
