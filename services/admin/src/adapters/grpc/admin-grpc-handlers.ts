import type { AdminServiceService, AuditEntry, Limits, Settings, Tenant } from "@tessera/proto/tessera/admin/v1/admin";
import type { User } from "@tessera/proto/tessera/identity/v1/identity";
import type { DayUsage, ModelUsagePage, UsageSeries } from "@tessera/proto/tessera/quota/v1/quota";
import { forbidden, newUuid, type CallerVerifier, type CallContext, type LimitPair, type ServiceHandlers } from "@tessera/platform";
import type { AdminUseCases } from "../../application/admin-use-cases.ts";
import type { SettingsView } from "../../application/tenant-settings.ts";
import type { TenantView } from "../../application/manage-tenants.ts";
import type { AuditRecord } from "../../domain/audit.ts";
import type { Actor } from "../../domain/ports.ts";

const limitsMessage = (pair: LimitPair): Limits => ({ ...(pair.messages !== null ? { messages: pair.messages } : {}), ...(pair.tokens !== null ? { tokens: pair.tokens } : {}) });
const limitsOf = (limits: Limits | undefined): LimitPair | undefined => (limits ? { messages: limits.messages ?? null, tokens: limits.tokens ?? null } : undefined);

const settingsMessage = (view: SettingsView): Settings => ({
  defaultLimits: limitsMessage(view.defaultLimits),
  premiumLimits: limitsMessage(view.premiumLimits),
  timeZone: view.timeZone,
  minPasswordLength: view.minPasswordLength,
  selfRegistration: view.selfRegistration,
  providers: view.providers,
  models: view.models,
  availableModels: view.availableModels,
  sharedUpstream: view.sharedUpstream,
  signInProviders: view.signInProviders,
  autoLinkVerifiedEmail: view.autoLinkVerifiedEmail ?? undefined,
  maxCompletionTokens: view.maxCompletionTokens ?? undefined,
  updatedAt: view.updatedAt ?? "",
});

const tenantMessage = (tenant: TenantView): Tenant => ({
  id: tenant.id,
  slug: tenant.slug,
  name: tenant.name,
  domains: tenant.domains,
  timeZone: tenant.timeZone,
  minPasswordLength: tenant.minPasswordLength,
  sharedUpstream: tenant.sharedUpstream,
  createdAt: tenant.createdAt,
  updatedAt: tenant.updatedAt,
});

const auditMessage = (record: AuditRecord): AuditEntry => ({
  id: record.id,
  at: record.at.toISOString(),
  tenantId: record.scope,
  actorId: record.actorId,
  action: record.action,
  targetType: record.targetType,
  targetId: record.targetId,
  beforeJson: JSON.stringify(record.before ?? null),
  afterJson: JSON.stringify(record.after ?? null),
  requestId: record.requestId,
});

/**
 * Thin translation between gRPC and the admin use cases. The actor comes from the caller's access
 * token only; personal API keys never reach administration.
 */
export function adminGrpcHandlers(
  useCases: AdminUseCases<User, DayUsage, UsageSeries, ModelUsagePage>,
  verify: CallerVerifier,
): ServiceHandlers<typeof AdminServiceService> {
  const actorOf = async (context: CallContext): Promise<Actor> => {
    const token = context.bearerToken;
    const claims = await verify(token);
    if (claims.kind !== "session") throw forbidden("API keys cannot be used for administration; sign in instead.", "api_key_not_allowed");
    return { userId: claims.userId, tenantId: claims.tenantId, role: claims.role, requestId: context.requestId ?? newUuid() };
  };
  return {
    getSettings: async (_request, context) => settingsMessage(await useCases.settings.getSettings(await actorOf(context))),
    updateSettings: async (request, context) =>
      settingsMessage(
        await useCases.settings.updateSettings(await actorOf(context), {
          defaultLimits: limitsOf(request.defaultLimits),
          premiumLimits: limitsOf(request.premiumLimits),
          timeZone: request.timeZone,
          minPasswordLength: request.minPasswordLength,
          selfRegistration: request.selfRegistration,
          providers: request.setProviders ? request.providers : undefined,
          models: request.setModels ? request.models : undefined,
          signInProviders: request.setSignInProviders ? request.signInProviders : undefined,
          autoLinkVerifiedEmail: request.autoLinkVerifiedEmail,
          maxCompletionTokens: request.clearMaxCompletionTokens ? null : request.maxCompletionTokens,
        }),
      ),
    listUsers: async (request, context) =>
      useCases.users.list(await actorOf(context), { query: request.query, status: request.status, role: request.role, limit: request.page?.limit ?? 0, cursor: request.page?.cursor ?? "" }),
    getUser: async (request, context) => useCases.users.get(await actorOf(context), request.userId),
    updateUser: async (request, context) =>
      useCases.users.update(await actorOf(context), request.userId, {
        role: request.role,
        status: request.status,
        premiumUntil: request.clearPremiumUntil ? null : request.premiumUntil,
        trustLevel: request.trustLevel,
        maxMessagesPerDay: request.clearMaxMessagesPerDay ? null : request.maxMessagesPerDay,
        maxTokensPerDay: request.clearMaxTokensPerDay ? null : request.maxTokensPerDay,
        maxChats: request.maxChats,
      }),
    getDayUsage: async (request, context) => useCases.usage.day(await actorOf(context), { date: request.date, limit: request.limit, cursor: request.cursor }),
    getUserUsage: async (request, context) => useCases.usage.user(await actorOf(context), request),
    getModelUsage: async (request, context) => useCases.usage.models(await actorOf(context), request),
    listAudit: async (request, context) => {
      const page = await useCases.audit.tenant(await actorOf(context), request);
      return { items: page.items.map(auditMessage), nextCursor: page.nextCursor };
    },
    listPlatformAudit: async (request, context) => {
      const page = await useCases.audit.platform(await actorOf(context), request);
      return { items: page.items.map(auditMessage), nextCursor: page.nextCursor };
    },
    listTenants: async (request, context) => {
      const page = await useCases.tenants.list(await actorOf(context), request.limit, request.cursor);
      return { items: page.items.map(tenantMessage), nextCursor: page.nextCursor };
    },
    getTenant: async (request, context) => tenantMessage(await useCases.tenants.get(await actorOf(context), request.id)),
    createTenant: async (request, context) =>
      tenantMessage(await useCases.tenants.create(await actorOf(context), { slug: request.slug, name: request.name, domains: request.domains, timeZone: request.timeZone, sharedUpstream: request.sharedUpstream })),
    updateTenant: async (request, context) =>
      tenantMessage(
        await useCases.tenants.update(await actorOf(context), request.id, {
          name: request.name,
          domains: request.setDomains ? request.domains : undefined,
          minPasswordLength: request.minPasswordLength,
          timeZone: request.timeZone,
          sharedUpstream: request.sharedUpstream,
        }),
      ),
    getTenantSettings: async (request) => {
      const snapshot = await useCases.settings.snapshot(request.id);
      return {
        ...snapshot,
        defaultLimits: limitsMessage(snapshot.defaultLimits),
        premiumLimits: limitsMessage(snapshot.premiumLimits),
        signInProvidersSet: snapshot.signInProviders !== null,
        signInProviders: snapshot.signInProviders ?? [],
        autoLinkVerifiedEmail: snapshot.autoLinkVerifiedEmail ?? undefined,
        maxCompletionTokens: snapshot.maxCompletionTokens ?? undefined,
      };
    },
  };
}
