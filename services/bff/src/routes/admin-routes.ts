import { Router } from "express";
import type { AuditEntry, Limits, Settings } from "@tessera/proto/tessera/admin/v1/admin";
import type { AdminClient } from "../adapters/admin-client.ts";
import { pageQuery } from "../http/pagination.ts";
import { withActiveAccount, type ActiveAccountDependencies } from "../http/request-context.ts";
import { isoDate as date, nextCursor, operation } from "../http/contract.ts";
import { parseBody, parseQuery, z } from "../http/validate.ts";
import { UsageSeries, dayJson } from "./quota-routes.ts";

const rangeQuery = z.object({ from: date.optional(), to: date.optional() });
const dayQuery = z.object({ date: date.optional(), ...pageQuery });
const modelQuery = z.object({ from: date.optional(), to: date.optional(), ...pageQuery });
export const auditQuery = z.object({
  actorId: z.string().max(100).optional(),
  action: z.string().max(100).optional().meta({ description: "user.update, settings.update, provider.create|update|delete, tenant.create|update" }),
  targetId: z.string().max(200).optional(),
  ...pageQuery,
});

const limitValue = z.number().int().min(0).max(1_000_000_000_000).nullable();
const maxCompletionTokens = z
  .number()
  .int()
  .min(1)
  .max(1_000_000)
  .nullable()
  .meta({
    description:
      "The most tokens one answer may take: reserved from the daily token limit before it streams, and the cap on `max_tokens` sent to the model; null: the installation's default (CHAT_MAX_COMPLETION_TOKENS)",
  });
const limitsBody = z
  .object({ messages: limitValue, tokens: limitValue })
  .strict()
  .meta({ id: "DailyLimits", description: "Daily limits; null falls back (premium → default → 100 messages / 500,000 tokens)" });
const modelBody = z.object({ id: z.string().min(1).max(200), name: z.string().max(200).optional() }).strict();
const providerBody = z
  .object({
    id: z.string().max(100).optional(),
    name: z.string().max(100),
    baseUrl: z.string().max(2_000),
    models: z.array(modelBody).max(50),
    addKeys: z.array(z.string().max(500)).max(20).optional().meta({ description: "New API keys (write-only: never returned)" }),
    removeKeyIds: z.array(z.string().max(100)).max(20).optional().meta({ description: "Ids of keys to remove (from `keys`)" }),
  })
  .strict();
// Only what a tenant admin may change: the shared-upstream grant is the operator's (PATCH /operator/tenants/:id).
const settingsBody = z
  .object({
    defaultLimits: limitsBody.optional(),
    premiumLimits: limitsBody.optional(),
    timeZone: z.string().max(64).optional(),
    minPasswordLength: z.int32().optional().meta({ description: "8 to 64" }),
    selfRegistration: z.boolean().optional().meta({ description: "Whether people may register themselves" }),
    providers: z
      .array(providerBody)
      .max(20)
      .optional()
      .meta({ description: "Replaces the tenant's own providers: listed ids are updated, entries without an id created, providers not listed deleted" }),
    models: z.array(z.string().min(1).max(200)).max(200).optional().meta({ description: "Model ids offered to users; empty offers every available model" }),
    signInProviders: z
      .array(z.enum(["google", "discord", "github", "oidc"]))
      .max(4)
      .optional()
      .meta({ description: "Sign-in providers this tenant enables (offered when the installation configures them)" }),
    autoLinkVerifiedEmail: z.boolean().optional().meta({ description: "Whether a provider-verified email links an existing account by itself (an unverified one never does)" }),
    maxCompletionTokens: maxCompletionTokens.optional(),
  })
  .strict();

const dateTime = z.string().meta({ format: "date-time" });
const ModelRef = z.object({ id: z.string(), name: z.string() });
const SettingsJson = z
  .object({
    defaultLimits: limitsBody,
    premiumLimits: limitsBody,
    timeZone: z.string().meta({ description: "IANA time zone whose midnight starts a new quota day" }),
    minPasswordLength: z.number().int(),
    selfRegistration: z.boolean(),
    providers: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        baseUrl: z.string(),
        models: z.array(ModelRef),
        keyCount: z.number().int(),
        keys: z.array(z.object({ id: z.string(), last4: z.string() })).meta({ description: "Keys are write-only: only their count and last four characters are shown" }),
        updatedAt: dateTime,
      }),
    ),
    models: z.array(z.string()),
    availableModels: z.array(ModelRef).meta({ description: "Every model of the providers (and of the shared upstream when granted)" }),
    sharedUpstream: z.boolean().meta({ description: "Granted by the operator: the tenant may use the platform's shared upstream" }),
    signInProviders: z.array(z.string()).meta({ description: "Sign-in providers offered now (enabled by the tenant and configured for the installation)" }),
    autoLinkVerifiedEmail: z
      .boolean()
      .nullable()
      .meta({ description: "Whether a provider-verified email links an existing account by itself; null: the installation's default (OAUTH_AUTO_LINK_VERIFIED_EMAIL, on unless set to false)" }),
    maxCompletionTokens,
    updatedAt: dateTime.nullable(),
  })
  .meta({ id: "TenantSettings" });

export const AuditEntryJson = z
  .object({
    id: z.string(),
    at: dateTime,
    actorId: z.string(),
    action: z.string(),
    targetType: z.string(),
    targetId: z.string(),
    before: z.unknown().meta({ description: "State before the change, secrets redacted (null when created)" }),
    after: z.unknown().meta({ description: "State after the change, secrets redacted (null when deleted)" }),
    requestId: z.string().meta({ description: "X-Request-Id of the request that made the change" }),
  })
  .meta({ id: "AuditEntry" });
export const AuditPage = z.object({ items: z.array(AuditEntryJson), nextCursor });
const count = { messages: z.number().int(), tokens: z.number().int() };
const DayUsage = z.object({
  date: z.string().meta({ format: "date" }),
  items: z.array(z.object({ userId: z.string(), username: z.string(), email: z.string(), ...count })),
  nextCursor,
  totals: z.object(count),
});
const ModelUsage = z.object({
  from: z.string().meta({ format: "date" }),
  to: z.string().meta({ format: "date" }),
  items: z.array(z.object({ model: z.string(), ...count })),
  nextCursor,
  totals: z.object(count),
});

export const adminOperations = [
  operation({ method: "get", path: "/api/v1/admin/settings", auth: "account", summary: "Admins: this tenant's settings", responses: { 200: SettingsJson }, errors: [401, 403] }),
  operation({
    method: "patch",
    path: "/api/v1/admin/settings",
    auth: "account",
    summary: "Admins: change this tenant's settings (applied to the very next request; audited)",
    body: settingsBody,
    responses: { 200: SettingsJson },
    errors: [400, 401, 403],
  }),
  operation({ method: "get", path: "/api/v1/admin/audit", auth: "account", summary: "Admins: this tenant's audit log, newest first (a cursor is not disturbed by new entries)", query: auditQuery, responses: { 200: AuditPage }, errors: [400, 401, 403] }),
  operation({ method: "get", path: "/api/v1/admin/usage", auth: "account", summary: "Admins: every user's usage of this tenant on a day (default today), with the day's totals", query: dayQuery, responses: { 200: DayUsage }, errors: [400, 401, 403] }),
  operation({
    method: "get",
    path: "/api/v1/admin/usage/models",
    auth: "account",
    summary: "Admins: this tenant's usage per model over a range (default the last 30 days, today included), most tokens first",
    query: modelQuery,
    responses: { 200: ModelUsage },
    errors: [400, 401, 403],
  }),
  operation({ method: "get", path: "/api/v1/admin/usage/{userId}", auth: "account", summary: "Admins: a user's daily usage (same tenant only)", query: rangeQuery, responses: { 200: UsageSeries }, errors: [400, 401, 403, 404] }),
];

const limitsJson = (limits: Limits | undefined) => ({ messages: limits?.messages ?? null, tokens: limits?.tokens ?? null });
const limitsMessage = (limits: { messages: number | null; tokens: number | null } | undefined): Limits | undefined =>
  limits ? { ...(limits.messages !== null ? { messages: limits.messages } : {}), ...(limits.tokens !== null ? { tokens: limits.tokens } : {}) } : undefined;

/** Tenant settings as admins see them: provider keys only as a count and their last four characters. */
export const settingsJson = (settings: Settings): z.output<typeof SettingsJson> => ({
  defaultLimits: limitsJson(settings.defaultLimits),
  premiumLimits: limitsJson(settings.premiumLimits),
  timeZone: settings.timeZone,
  minPasswordLength: settings.minPasswordLength,
  selfRegistration: settings.selfRegistration,
  providers: settings.providers.map((provider) => ({
    id: provider.id,
    name: provider.name,
    baseUrl: provider.baseUrl,
    models: provider.models.map((model) => ({ id: model.id, name: model.name })),
    keyCount: provider.keys.length,
    keys: provider.keys.map((key) => ({ id: key.id, last4: key.last4 })),
    updatedAt: provider.updatedAt,
  })),
  models: settings.models,
  availableModels: settings.availableModels.map((model) => ({ id: model.id, name: model.name })),
  sharedUpstream: settings.sharedUpstream,
  signInProviders: settings.signInProviders,
  autoLinkVerifiedEmail: settings.autoLinkVerifiedEmail ?? null,
  maxCompletionTokens: settings.maxCompletionTokens ?? null,
  updatedAt: settings.updatedAt || null,
});

const parseJson = (text: string): unknown => (text ? JSON.parse(text) : null);

export const auditJson = (entry: AuditEntry): z.output<typeof AuditEntryJson> => ({
  id: entry.id,
  at: entry.at,
  actorId: entry.actorId,
  action: entry.action,
  targetType: entry.targetType,
  targetId: entry.targetId,
  before: parseJson(entry.beforeJson),
  after: parseJson(entry.afterJson),
  requestId: entry.requestId,
});

/** Tenant settings, usage views and the audit log of the admin's own tenant, through the admin service. */
export function adminRoutes(deps: ActiveAccountDependencies & { admin: AdminClient }): Router {
  const router = Router();

  router.get(
    "/settings",
    withActiveAccount(deps, async ({ context, accessToken }) => ({ body: settingsJson(await deps.admin.getSettings({}, { accessToken, requestId: context.requestId })) })),
  );

  router.patch(
    "/settings",
    withActiveAccount(deps, async ({ request, context, accessToken }) => {
      const body = parseBody(settingsBody, request.body);
      const settings = await deps.admin.updateSettings(
        {
          defaultLimits: limitsMessage(body.defaultLimits),
          premiumLimits: limitsMessage(body.premiumLimits),
          timeZone: body.timeZone,
          minPasswordLength: body.minPasswordLength,
          selfRegistration: body.selfRegistration,
          setProviders: body.providers !== undefined,
          providers: (body.providers ?? []).map((provider) => ({
            id: provider.id ?? "",
            name: provider.name,
            baseUrl: provider.baseUrl,
            models: provider.models.map((model) => ({ id: model.id, name: model.name ?? "" })),
            addKeys: provider.addKeys ?? [],
            removeKeyIds: provider.removeKeyIds ?? [],
          })),
          setModels: body.models !== undefined,
          models: body.models ?? [],
          setSignInProviders: body.signInProviders !== undefined,
          signInProviders: body.signInProviders ?? [],
          autoLinkVerifiedEmail: body.autoLinkVerifiedEmail,
          maxCompletionTokens: body.maxCompletionTokens ?? undefined,
          clearMaxCompletionTokens: body.maxCompletionTokens === null,
        },
        { accessToken, requestId: context.requestId },
      );
      return { body: settingsJson(settings) };
    }),
  );

  router.get(
    "/audit",
    withActiveAccount(deps, async ({ request, context, accessToken }) => {
      const query = parseQuery(auditQuery, request.query);
      const page = await deps.admin.listAudit(
        { limit: query.limit, cursor: query.cursor ?? "", actorId: query.actorId ?? "", action: query.action ?? "", targetId: query.targetId ?? "" },
        { accessToken, requestId: context.requestId },
      );
      return { body: { items: page.items.map(auditJson), nextCursor: page.nextCursor || null } };
    }),
  );

  router.get(
    "/usage",
    withActiveAccount(deps, async ({ request, context, accessToken }) => {
      const query = parseQuery(dayQuery, request.query);
      const page = await deps.admin.getDayUsage({ tenantId: "", date: query.date ?? "", limit: query.limit, cursor: query.cursor ?? "" }, { accessToken, requestId: context.requestId });
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

  // Before /usage/:userId, so "models" is not taken for a user id.
  router.get(
    "/usage/models",
    withActiveAccount(deps, async ({ request, context, accessToken }) => {
      const query = parseQuery(modelQuery, request.query);
      const page = await deps.admin.getModelUsage({ from: query.from ?? "", to: query.to ?? "", limit: query.limit, cursor: query.cursor ?? "" }, { accessToken, requestId: context.requestId });
      return {
        body: {
          from: page.from,
          to: page.to,
          items: page.items.map((item) => ({ model: item.model, messages: item.messages, tokens: item.tokens })),
          nextCursor: page.nextCursor || null,
          totals: { messages: page.totalMessages, tokens: page.totalTokens },
        },
      };
    }),
  );

  router.get(
    "/usage/:userId",
    withActiveAccount(deps, async ({ request, context, accessToken }) => {
      const query = parseQuery(rangeQuery, request.query);
      const series = await deps.admin.getUserUsage({ userId: String(request.params.userId), from: query.from ?? "", to: query.to ?? "" }, { accessToken, requestId: context.requestId });
      return { body: { days: series.days.map(dayJson) } };
    }),
  );

  return router;
}
