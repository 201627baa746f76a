import type { ApiKey, IdentityServiceService, Tenant as TenantMessage, User as UserMessage } from "@tessera/proto/tessera/identity/v1/identity";
import { notFound, requireSessionCaller, type CallerVerifier, type ServiceHandlers } from "@tessera/platform";
import type { ApiKeyRecord } from "../../domain/ports.ts";
import type { LinkedIdentity } from "../../domain/oauth.ts";
import type { Tenant } from "../../domain/tenant.ts";
import type { User } from "../../domain/user.ts";
import type { IdentityUseCases } from "../../application/identity-use-cases.ts";

export function toUserMessage(user: User): UserMessage {
  return {
    id: user.id,
    tenantId: user.tenantId,
    email: user.email,
    username: user.username,
    fullName: user.fullName,
    avatarUrl: user.avatarUrl,
    role: user.role,
    status: user.status,
    trustLevel: user.trustLevel,
    premiumUntil: user.premiumUntil ? user.premiumUntil.toISOString() : undefined,
    hasPassword: user.passwordHash !== null,
    maxMessagesPerDay: user.maxMessagesPerDay ?? undefined,
    maxTokensPerDay: user.maxTokensPerDay ?? undefined,
    maxChats: user.maxChats,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
    platformRole: user.platformRole ?? "",
  };
}

export function toTenantMessage(tenant: Tenant): TenantMessage {
  return {
    id: tenant.id,
    slug: tenant.slug,
    name: tenant.name,
    domains: tenant.domains,
    timeZone: tenant.timeZone,
    minPasswordLength: tenant.minPasswordLength,
    selfRegistration: tenant.selfRegistration,
    createdAt: tenant.createdAt.toISOString(),
    updatedAt: tenant.updatedAt.toISOString(),
  };
}

const toApiKeyMessage = (record: ApiKeyRecord): ApiKey => ({
  id: record.id,
  name: record.name,
  prefix: record.prefix,
  createdAt: record.createdAt.toISOString(),
  lastUsedAt: record.lastUsedAt?.toISOString(),
  scopes: record.scopes,
});

const toIdentityMessage = (identity: LinkedIdentity) => ({
  provider: identity.provider,
  email: identity.email,
  displayName: identity.displayName,
  avatarUrl: identity.avatarUrl,
  linkedAt: identity.linkedAt.toISOString(),
});

const pageLimit = (limit: number) => Math.min(Math.max(limit || 50, 1), 100);

/** Thin translation between gRPC messages and the identity use cases; every user-facing call checks the caller's token. */
/**
 * `grantSession`: identity's grant to open one session for a user who just signed in (its own
 * credential; see createSessionGrantSigner).
 */
export function identityGrpcHandlers(
  useCases: IdentityUseCases,
  verify: CallerVerifier,
  grantSession: (user: { tenantId: string; userId: string; role: string }) => Promise<string>,
): ServiceHandlers<typeof IdentityServiceService> {
  const { account, admin } = useCases;
  const signedIn = async (user: User) => ({ user: toUserMessage(user), sessionGrant: await grantSession({ tenantId: user.tenantId, userId: user.id, role: user.role }) });
  // Reading one's own profile also works with a personal API key; everything else here needs a session.
  const verifySession = async (token: string | undefined) => requireSessionCaller(await verify(token));
  return {
    listSignInProviders: async (request) => ({ items: await useCases.listSignInProviders(request.tenantId) }),
    startOAuth: async (request, context) => ({
      authorizationUrl: await useCases.startOAuth({
        tenantId: request.tenantId,
        provider: request.provider,
        intent: request.intent,
        returnTo: request.returnTo,
        redirectUri: request.redirectUri,
        browserBinding: request.browserBinding,
        clientIp: request.clientIp,
        claims: request.intent === "link" ? await verifySession(context.bearerToken) : null,
      }),
    }),
    completeOAuth: async (request, context) => {
      // The active account only matters to a "link" flow, which checks it is the user who started it.
      const claims = context.bearerToken ? await verifySession(context.bearerToken).catch(() => null) : null;
      const completed = await useCases.completeOAuth({ tenantId: request.tenantId, provider: request.provider, callbackQuery: request.callbackQuery, browserBinding: request.browserBinding, claims, clientIp: request.clientIp });
      const sessionGrant = completed.intent === "login" ? (await signedIn(completed.user)).sessionGrant : "";
      return { user: toUserMessage(completed.user), intent: completed.intent, returnTo: completed.returnTo, sessionGrant };
    },
    listIdentities: async (_request, context) => ({ items: (await useCases.linkedIdentities.list(await verifySession(context.bearerToken))).map(toIdentityMessage) }),
    unlinkIdentity: async (request, context) => {
      await useCases.linkedIdentities.unlink(await verifySession(context.bearerToken), request.provider);
      return {};
    },
    resolveTenant: async (request) => toTenantMessage(await useCases.resolveTenant(request.host)),
    register: async (request) =>
      signedIn(await useCases.registerUser({ tenantId: request.tenantId, email: request.email, username: request.username, password: request.password, fullName: request.fullName, clientIp: request.clientIp })),
    verifyPassword: async (request) =>
      signedIn(await useCases.verifyPassword({ tenantId: request.tenantId, login: request.login, password: request.password, clientIp: request.clientIp, deviceId: request.deviceId })),
    getMe: async (_request, context) => toUserMessage(await account.me(await verify(context.bearerToken))),
    updateMe: async (request, context) =>
      toUserMessage(await account.updateMe(await verifySession(context.bearerToken), { fullName: request.fullName, avatarUrl: request.avatarUrl, username: request.username })),
    changePassword: async (request, context) => {
      await account.changePassword(await verifySession(context.bearerToken), { currentPassword: request.currentPassword, newPassword: request.newPassword });
      return {};
    },
    getUser: async (request) => {
      const user = await useCases.users.findById(request.tenantId, request.userId);
      if (!user) throw notFound("user");
      return toUserMessage(user);
    },
    createApiKey: async (request, context) => {
      const { record, secret } = await account.createApiKey(await verifySession(context.bearerToken), request.name, request.scopes);
      return { key: toApiKeyMessage(record), secret };
    },
    listApiKeys: async (_request, context) => ({ items: (await account.listApiKeys(await verifySession(context.bearerToken))).map(toApiKeyMessage) }),
    revokeApiKey: async (request, context) => {
      await account.revokeApiKey(await verifySession(context.bearerToken), request.id);
      return {};
    },
    verifyApiKey: async (request) => {
      const { record, user } = await account.verifyApiKey(request.tenantId, request.key);
      return { keyId: record.id, user: toUserMessage(user), scopes: record.scopes };
    },
    adminListUsers: async (request, context) => {
      const limit = pageLimit(request.page?.limit ?? 50);
      const users = await admin.listUsers(await verifySession(context.bearerToken), {
        ...(request.query ? { query: request.query } : {}),
        ...(request.status ? { status: request.status } : {}),
        ...(request.role ? { role: request.role } : {}),
        limit: limit + 1,
        ...(request.page?.cursor ? { after: request.page.cursor } : {}),
      });
      const items = users.slice(0, limit);
      return { items: items.map(toUserMessage), nextCursor: users.length > limit ? items[items.length - 1]!.id : "" };
    },
    adminGetUser: async (request, context) => toUserMessage(await admin.getUser(await verifySession(context.bearerToken), request.userId)),
    adminUpdateUser: async (request, context) => {
      const { after } = await admin.updateUser(await verifySession(context.bearerToken), request.userId, {
        role: request.role as User["role"] | undefined,
        status: request.status as User["status"] | undefined,
        premiumUntil: request.clearPremiumUntil ? null : request.premiumUntil === undefined ? undefined : new Date(request.premiumUntil),
        trustLevel: request.trustLevel,
        maxMessagesPerDay: request.clearMaxMessagesPerDay ? null : request.maxMessagesPerDay,
        maxTokensPerDay: request.clearMaxTokensPerDay ? null : request.maxTokensPerDay,
        maxChats: request.maxChats,
      });
      return toUserMessage(after);
    },
    listTenants: async (request, context) => {
      const limit = pageLimit(request.limit);
      const tenants = await admin.listTenants(await verifySession(context.bearerToken), limit + 1, request.cursor || undefined);
      const items = tenants.slice(0, limit);
      return { items: items.map(toTenantMessage), nextCursor: tenants.length > limit ? items[items.length - 1]!.id : "" };
    },
    getTenant: async (request, context) => toTenantMessage(await admin.getTenant(await verifySession(context.bearerToken), request.id)),
    createTenant: async (request, context) =>
      toTenantMessage(await admin.createTenant(await verifySession(context.bearerToken), { slug: request.slug, name: request.name, domains: request.domains, ...(request.timeZone ? { timeZone: request.timeZone } : {}) })),
    getTenantPolicy: async (request) => toTenantMessage(await admin.tenantPolicy(request.id)),
    updateTenantPolicy: async (request) =>
      toTenantMessage(
        await admin.updateTenantPolicy(request.tenantId, {
          ...(request.minPasswordLength !== undefined ? { minPasswordLength: request.minPasswordLength } : {}),
          ...(request.selfRegistration !== undefined ? { selfRegistration: request.selfRegistration } : {}),
        }),
      ),
    updateTenant: async (request, context) =>
      toTenantMessage(
        await admin.updateTenant(await verifySession(context.bearerToken), request.id, {
          ...(request.name !== undefined ? { name: request.name } : {}),
          ...(request.setDomains ? { domains: request.domains } : {}),
          ...(request.timeZone !== undefined ? { timeZone: request.timeZone } : {}),
          ...(request.minPasswordLength !== undefined ? { minPasswordLength: request.minPasswordLength } : {}),
          ...(request.selfRegistration !== undefined ? { selfRegistration: request.selfRegistration } : {}),
        }),
      ),
  };
}
