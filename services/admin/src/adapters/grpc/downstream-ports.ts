import { ChatServiceService, type Provider } from "@tessera/proto/tessera/chat/v1/chat";
import { IdentityServiceService, type Tenant, type User } from "@tessera/proto/tessera/identity/v1/identity";
import { QuotaServiceService, type DayUsage, type ModelUsagePage, type UsageSeries } from "@tessera/proto/tessera/quota/v1/quota";
import { createGrpcClient, type GrpcClient } from "@tessera/platform";
import type { Actor, IdentityPort, ProviderPort, ProviderRecord, TenantRecord, UsagePort } from "../../domain/ports.ts";

// The actor's own token travels with every call made while serving theirs (forwardCaller).
const as = (actor: Actor) => ({ requestId: actor.requestId });

const tenantRecord = (tenant: Tenant): TenantRecord => ({
  id: tenant.id,
  slug: tenant.slug,
  name: tenant.name,
  domains: tenant.domains,
  minPasswordLength: tenant.minPasswordLength,
  selfRegistration: tenant.selfRegistration,
  createdAt: tenant.createdAt,
  updatedAt: tenant.updatedAt,
});

/** Identity over gRPC. Calls for an actor carry their caller token: identity checks the caller as well. */
export function identityPort(identity: GrpcClient<typeof IdentityServiceService>): IdentityPort<User> {
  return {
    platformRoleOf: async (tenantId, userId) => (await identity.getUser({ tenantId, userId })).platformRole,
    listUsers: (actor, query) => identity.adminListUsers({ query: query.query, status: query.status, role: query.role, page: { limit: query.limit, cursor: query.cursor } }, as(actor)),
    getUser: (actor, userId) => identity.adminGetUser({ tenantId: actor.tenantId, userId }, as(actor)),
    updateUser: (actor, userId, changes) =>
      identity.adminUpdateUser(
        {
          userId,
          role: changes.role,
          status: changes.status,
          premiumUntil: changes.premiumUntil ?? undefined,
          clearPremiumUntil: changes.premiumUntil === null,
          trustLevel: changes.trustLevel,
          maxMessagesPerDay: changes.maxMessagesPerDay ?? undefined,
          clearMaxMessagesPerDay: changes.maxMessagesPerDay === null,
          maxTokensPerDay: changes.maxTokensPerDay ?? undefined,
          clearMaxTokensPerDay: changes.maxTokensPerDay === null,
          maxChats: changes.maxChats,
        },
        as(actor),
      ),
    tenantPolicy: async (tenantId) => tenantRecord(await identity.getTenantPolicy({ id: tenantId })),
    signInProviders: async (tenantId) => (await identity.listSignInProviders({ tenantId })).items.map((provider) => provider.id),
    updateTenantPolicy: async (tenantId, changes) => tenantRecord(await identity.updateTenantPolicy({ tenantId, minPasswordLength: changes.minPasswordLength, selfRegistration: changes.selfRegistration })),
    listTenants: async (actor, limit, cursor) => {
      const page = await identity.listTenants({ limit, cursor }, as(actor));
      return { items: page.items.map(tenantRecord), nextCursor: page.nextCursor };
    },
    getTenant: async (actor, id) => tenantRecord(await identity.getTenant({ id }, as(actor))),
    createTenant: async (actor, input) => tenantRecord(await identity.createTenant({ slug: input.slug, name: input.name, domains: input.domains, timeZone: "" }, as(actor))),
    updateTenant: async (actor, id, changes) =>
      tenantRecord(
        await identity.updateTenant(
          { id, name: changes.name, setDomains: changes.domains !== undefined, domains: changes.domains ?? [], minPasswordLength: changes.minPasswordLength },
          as(actor),
        ),
      ),
  };
}

/** Quota's usage reads over gRPC (quota checks the caller's admin role itself too). */
export function usagePort(quota: GrpcClient<typeof QuotaServiceService>): UsagePort<DayUsage, UsageSeries, ModelUsagePage> {
  return {
    dayUsage: (actor, request) => quota.getDayUsage({ tenantId: actor.tenantId, date: request.date, limit: request.limit, cursor: request.cursor }, as(actor)),
    userSeries: (actor, request) => quota.getUsage({ tenantId: actor.tenantId, userId: request.userId, from: request.from, to: request.to, asAdmin: true }, as(actor)),
    modelUsage: (actor, request) => quota.getModelUsage(request, as(actor)),
  };
}

const providerRecord = (provider: Provider): ProviderRecord => ({
  id: provider.id,
  name: provider.name,
  baseUrl: provider.baseUrl,
  models: provider.models.map((model) => ({ id: model.id, name: model.name })),
  keys: provider.keys.map((key) => ({ id: key.id, last4: key.hint })),
  origin: provider.origin === "environment" ? "environment" : "admin",
  updatedAt: provider.updatedAt,
});

/** Chat's upstream providers over gRPC; keys go in, only their descriptions come back. */
export function providerPort(chat: GrpcClient<typeof ChatServiceService>): ProviderPort {
  return {
    list: async (actor) => (await chat.listProviders({}, as(actor))).items.map(providerRecord),
    save: async (actor, input) => providerRecord(await chat.saveProvider(input, as(actor))),
    delete: async (actor, id) => void (await chat.deleteProvider({ id }, as(actor))),
  };
}

export function downstreamClients(options: { identityAddress: string; quotaAddress: string; chatAddress: string; internalToken: string }) {
  const identity = createGrpcClient(IdentityServiceService, { name: "identity", address: options.identityAddress, internalToken: options.internalToken, forwardCaller: true });
  const quota = createGrpcClient(QuotaServiceService, { name: "quota", address: options.quotaAddress, internalToken: options.internalToken, forwardCaller: true });
  const chat = createGrpcClient(ChatServiceService, { name: "chat", address: options.chatAddress, internalToken: options.internalToken, forwardCaller: true });
  return { identity, quota, chat, close: () => (identity.close(), quota.close(), chat.close()) };
}
