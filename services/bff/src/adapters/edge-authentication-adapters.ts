import { AppError, apiKeyHash, createCache, roleOfStoredAccessToken, type Caller, type InvalidationBus } from "@tessera/platform";
import type { EdgeAuthenticationPorts, KnownApiKey } from "../application/edge-authentication.ts";
import type { IdentityClient, SessionClient } from "./service-clients.ts";

/** A caller token is reused until this long before it expires. */
const TOKEN_RENEW_MARGIN_MS = 60_000;

/** The edge's ports over identity and session, each read through the platform cache. */
export function edgeAuthenticationAdapters(deps: {
  identity: IdentityClient;
  session: SessionClient;
  bus: InvalidationBus;
  users: EdgeAuthenticationPorts["users"];
}): EdgeAuthenticationPorts {
  const keys = deps.bus.cache<KnownApiKey | null>("apiKeys", { ttlMs: 5 * 60_000, maxEntries: 50_000 });
  const sessions = deps.bus.cache<boolean>("sessions", { ttlMs: 5 * 60_000, maxEntries: 100_000 });
  // Keyed by everything the token says: a changed role or scope gets a new token, a revoked key never reaches here.
  const tokens = createCache<{ token: string; renewAt: number }>({ name: "callerTokens", ttlMs: 10 * 60_000, maxEntries: 50_000 });

  return {
    apiKeys: {
      find: (secret) =>
        keys.getOrLoad(apiKeyHash(secret), async () => {
          try {
            const verified = await deps.identity.verifyApiKey({ tenantId: "", key: secret });
            if (!verified.user) return null;
            return { keyId: verified.keyId, tenantId: verified.user.tenantId, userId: verified.user.id, scopes: verified.scopes };
          } catch (error) {
            if (error instanceof AppError && (error.status === 401 || error.status === 404)) return null;
            throw error;
          }
        }),
    },
    users: deps.users,
    sessions: {
      isLive: (sessionId) => sessions.getOrLoad(sessionId, async () => (await deps.session.checkSession({ sessionId })).active),
    },
    callerTokens: {
      async tokenFor(caller: Caller) {
        const key = [caller.apiKeyId, caller.tenantId, caller.userId, caller.role, caller.platformRole ?? "", caller.scopes.join(" ")].join("|");
        const cached = tokens.get(key);
        if (cached && cached.renewAt > Date.now()) return cached.token;
        const issued = await deps.session.issueCallerToken({
          tenantId: caller.tenantId,
          userId: caller.userId,
          role: caller.role,
          platformRole: caller.platformRole ?? "",
          scopes: [...caller.scopes],
          apiKeyId: caller.apiKeyId ?? "",
        });
        tokens.set(key, { token: issued.token, renewAt: Date.parse(issued.expiresAt) - TOKEN_RENEW_MARGIN_MS });
        return issued.token;
      },
    },
    roleOfAccessToken: roleOfStoredAccessToken,
  };
}
