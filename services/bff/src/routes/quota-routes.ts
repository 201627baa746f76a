import { Router } from "express";
import type { UsageDay } from "@tessera/proto/tessera/quota/v1/quota";
import type { QuotaClient } from "../adapters/quota-client.ts";
import type { BrowserAuth } from "../application/browser-auth.ts";
import type { BrowserSessionStore } from "../application/browser-session.ts";
import { pageQuery } from "../http/pagination.ts";
import { withActiveAccount, type CookieSettings, type ActiveAccountDependencies } from "../http/request-context.ts";
import { parseQuery, z } from "../http/validate.ts";

const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "Use a date as YYYY-MM-DD.");
const rangeQuery = z.object({ from: date.optional(), to: date.optional() });
const dayQuery = z.object({ date: date.optional(), ...pageQuery });

const dayJson = (day: UsageDay) => ({
  date: day.date,
  messages: day.messages,
  tokens: day.tokens,
  byModel: day.byModel.map((model) => ({ model: model.model, messages: model.messages, tokens: model.tokens })),
});

/**
 * Quota and usage: the user's own (cookie session) and, for admins, their tenant's. The quota
 * service decides who may see what from the access token (admin role, same tenant; else 403).
 */
export function quotaRoutes(deps: ActiveAccountDependencies & { auth: BrowserAuth; quota: QuotaClient; store: BrowserSessionStore; cookie: CookieSettings }): Router {
  const router = Router();

  router.get(
    "/quota",
    withActiveAccount(deps, async ({ accessToken }) => {
      const status = await deps.quota.getQuota({ tenantId: "", userId: "" }, { accessToken });
      return {
        body: {
          messages: { used: status.messages?.used ?? 0, limit: status.messages?.limit ?? 0 },
          tokens: { used: status.tokens?.used ?? 0, limit: status.tokens?.limit ?? 0 },
          resetAt: status.resetAt,
          premium: status.premium,
        },
      };
    }),
  );

  router.get(
    "/me/usage",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      const query = parseQuery(rangeQuery, request.query);
      const series = await deps.quota.getUsage({ tenantId: "", userId: "", from: query.from ?? "", to: query.to ?? "", asAdmin: false }, { accessToken });
      return { body: { days: series.days.map(dayJson) } };
    }),
  );

  router.get(
    "/admin/usage",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      const query = parseQuery(dayQuery, request.query);
      const page = await deps.quota.getDayUsage({ tenantId: "", date: query.date ?? "", limit: query.limit, cursor: query.cursor ?? "" }, { accessToken });
      return {
        body: {
          date: page.date,
          items: page.items.map((item) => ({ userId: item.userId, username: item.username, email: item.email, messages: item.messages, tokens: item.tokens })),
          nextCursor: page.nextCursor || null,
          totals: { messages: page.totalMessages, tokens: page.totalTokens },
        },
      };
    }),
  );

  router.get(
    "/admin/usage/:userId",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      const query = parseQuery(rangeQuery, request.query);
      const userId = String(request.params.userId);
      const series = await deps.quota.getUsage({ tenantId: "", userId, from: query.from ?? "", to: query.to ?? "", asAdmin: true }, { accessToken });
      return { body: { days: series.days.map(dayJson) } };
    }),
  );

  return router;
}
