import { IdentityServiceService, type Tenant as TenantMessage, type User as UserMessage } from "@tessera/proto/tessera/identity/v1/identity";
import { notFound, type AccessTokenVerifier, type ServiceHandlers, type Clock } from "@tessera/platform";
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
    createdAt: tenant.createdAt.toISOString(),
    updatedAt: tenant.updatedAt.toISOString(),
  };
}

/** Thin translation between gRPC messages and the identity use cases. */
export function identityGrpcHandlers(useCases: IdentityUseCases, verifyAccessToken: AccessTokenVerifier, _clock: Clock): Partial<ServiceHandlers<typeof IdentityServiceService>> {
  return {
    resolveTenant: async (request) => toTenantMessage(await useCases.resolveTenant(request.host)),
    register: async (request) =>
      toUserMessage(
        await useCases.registerUser({
          tenantId: request.tenantId,
          email: request.email,
          username: request.username,
          password: request.password,
          fullName: request.fullName,
        }),
      ),
    verifyPassword: async (request) =>
      toUserMessage(
        await useCases.verifyPassword({
          tenantId: request.tenantId,
          login: request.login,
          password: request.password,
          clientIp: request.clientIp,
        }),
      ),
    getMe: async (_request, context) => {
      const claims = await verifyAccessToken(context.bearerToken);
      const user = await useCases.users.findById(claims.tenantId, claims.userId);
      if (!user) throw notFound("user");
      return toUserMessage(user);
    },
    getUser: async (request) => {
      const user = await useCases.users.findById(request.tenantId, request.userId);
      if (!user) throw notFound("user");
      return toUserMessage(user);
    },
  };
}
