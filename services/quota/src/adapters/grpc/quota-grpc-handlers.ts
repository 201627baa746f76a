import type { QuotaServiceService, QuotaStatus as QuotaStatusMessage } from "@tessera/proto/tessera/quota/v1/quota";
import { forbidden, type ServiceHandlers } from "@tessera/platform";
import type { Caller, CallerVerifier } from "../../domain/ports.ts";
import type { QuotaStatus } from "../../application/quota-context.ts";
import type { QuotaUseCases } from "../../application/quota-use-cases.ts";

function toStatusMessage(status: QuotaStatus): QuotaStatusMessage {
  return {
    messages: { used: status.used.messages, limit: status.limits.messages },
    tokens: { used: status.used.tokens, limit: status.limits.tokens },
    resetAt: status.resetAt.toISOString(),
    premium: status.premium,
    day: status.day,
  };
}

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
      const reservation = await useCases.checkAndReserve(caller, request.reservationId, Number(request.estimatedTokens), {
        model: request.model,
        source: request.source,
      });
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
    getModelUsage: async (request, context) => {
      const page = await useCases.getModelUsage(await callerOf(context.bearerToken, {}), request);
      return {
        from: page.from,
        to: page.to,
        items: page.items,
        nextCursor: page.nextCursor,
        totalMessages: page.totals.messages,
        totalTokens: page.totals.tokens,
      };
    },
  };
}
