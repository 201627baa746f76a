import { Router } from "express";
import type { UsageDay } from "@tessera/proto/tessera/quota/v1/quota";
import type { QuotaClient } from "../adapters/quota-client.ts";
import type { BrowserAuth } from "../application/browser-auth.ts";
import type { BrowserSessionStore } from "../application/browser-session.ts";
import { withActiveAccount, type CookieSettings, type ActiveAccountDependencies } from "../http/request-context.ts";
import { isoDate as date, operation } from "../http/contract.ts";
import { parseQuery, z } from "../http/validate.ts";
const rangeQuery = z.object({ from: date.optional(), to: date.optional() });

const Used = z.object({ used: z.number().int(), limit: z.number().int() });
const Quota = z
  .object({ messages: Used, tokens: Used, resetAt: z.string().meta({ format: "date-time" }), premium: z.boolean() })
  .meta({ id: "Quota" });
const count = { messages: z.number().int(), tokens: z.number().int() };
export const UsageDayJson = z.object({ date: z.string().meta({ format: "date" }), ...count, byModel: z.array(z.object({ model: z.string(), ...count })) }).meta({ id: "UsageDay" });
export const UsageSeries = z.object({ days: z.array(UsageDayJson) }).meta({ id: "UsageSeries" });

export const quotaOperations = [
  operation({ method: "get", path: "/api/v1/quota", auth: "account", summary: "Today's usage and limits of the active account, and when they reset", responses: { 200: Quota }, errors: [401] }),
  operation({
    method: "get",
    path: "/api/v1/me/usage",
    auth: "account",
    summary: "My daily usage (every day of the range, per model); default the last 30 days, at most 366",
    description: "Dates are days in the tenant's time zone.",
    query: rangeQuery,
    responses: { 200: UsageSeries },
    errors: [400, 401],
  }),
];

export const dayJson = (day: UsageDay): z.output<typeof UsageDayJson> => ({
  date: day.date,
  messages: day.messages,
  tokens: day.tokens,
  byModel: day.byModel.map((model) => ({ model: model.model, messages: model.messages, tokens: model.tokens })),
});

/**
 * Quota and usage of the signed-in user (cookie session or API key). Admins' usage views are
 * admin routes (admin-routes.ts), through the admin service.
 */
export function quotaRoutes(deps: ActiveAccountDependencies & { auth: BrowserAuth; quota: QuotaClient; store: BrowserSessionStore; cookie: CookieSettings }): Router {
  const router = Router();

  router.get(
    "/quota",
    withActiveAccount(deps, async ({ accessToken }) => {
      const status = await deps.quota.getQuota({ tenantId: "", userId: "" }, { accessToken });
      const body: z.output<typeof Quota> = {
        messages: { used: status.messages?.used ?? 0, limit: status.messages?.limit ?? 0 },
        tokens: { used: status.tokens?.used ?? 0, limit: status.tokens?.limit ?? 0 },
        resetAt: status.resetAt,
        premium: status.premium,
      };
      return { body };
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

  return router;
}
