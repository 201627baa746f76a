import type { SessionServiceService, TokenPair } from "@tessera/proto/tessera/session/v1/session";
import { knownKeyScopes, requireSessionCaller, validationFailed, type CallerVerifier, type ServiceHandlers, type SessionGrantVerifier } from "@tessera/platform";
import type { IssuedTokens, SessionUseCases } from "../../application/session-use-cases.ts";

const toTokenPair = (tokens: IssuedTokens): TokenPair => ({
  accessToken: tokens.accessToken,
  accessExpiresAt: tokens.accessExpiresAt.toISOString(),
  refreshToken: tokens.refreshToken,
  refreshExpiresAt: tokens.refreshExpiresAt.toISOString(),
  sessionId: tokens.session.id,
  userId: tokens.session.userId,
  tenantId: tokens.session.tenantId,
});

/** `verifyGrant`: identity's grant is the only way to open a session (the shared internal token is not enough). */
export function sessionGrpcHandlers(useCases: SessionUseCases, verify: CallerVerifier, verifyGrant: SessionGrantVerifier): ServiceHandlers<typeof SessionServiceService> {
  return {
    createSession: async (request) =>
      toTokenPair(await useCases.createSession(await verifyGrant(request.sessionGrant), { rememberMe: request.rememberMe, deviceInfo: request.deviceInfo, ip: request.ip })),
    refresh: async (request) => toTokenPair(await useCases.refresh(request.refreshToken, request.ip)),
    revokeByRefreshToken: async (request) => {
      await useCases.revokeByRefreshToken(request.refreshToken);
      return {};
    },
    listMySessions: async (_request, context) => {
      const claims = requireSessionCaller(await verify(context.bearerToken));
      const items = await useCases.listMine(claims);
      return {
        items: items.map(({ session, current }) => ({
          id: session.id,
          deviceInfo: session.deviceInfo,
          ip: session.ip,
          createdAt: session.createdAt.toISOString(),
          lastUsedAt: session.lastUsedAt.toISOString(),
          current,
        })),
      };
    },
    revokeMySession: async (request, context) => {
      await useCases.revokeMine(requireSessionCaller(await verify(context.bearerToken)), request.sessionId);
      return {};
    },
    revokeAllMySessions: async (_request, context) => {
      await useCases.revokeAllMine(requireSessionCaller(await verify(context.bearerToken)));
      return {};
    },
    revokeMyOtherSessions: async (_request, context) => {
      await useCases.revokeMyOthers(requireSessionCaller(await verify(context.bearerToken)));
      return {};
    },
    revokeUserSessions: async (request) => {
      await useCases.revokeUserSessions(request.tenantId, request.userId);
      return {};
    },
    getJwks: async () => ({ json: JSON.stringify(await useCases.jwks()) }),
    checkSession: async (request) => ({ active: await useCases.isActive(request.sessionId) }),
    issueCallerToken: async (request) => {
      if (!request.tenantId || !request.userId || !request.apiKeyId) throw validationFailed([{ field: "apiKeyId", message: "A verified key and its owner are required." }]);
      const issued = await useCases.issueCallerToken({
        tenantId: request.tenantId,
        userId: request.userId,
        role: request.role === "admin" ? "admin" : "user",
        platformRole: request.platformRole === "operator" ? "operator" : null,
        scopes: knownKeyScopes(request.scopes),
        apiKeyId: request.apiKeyId,
      });
      return { token: issued.token, expiresAt: issued.expiresAt.toISOString() };
    },
  };
}
