import { ALL_SCOPES, API_KEY_PREFIX, DEFAULT_KEY_SCOPES, knownKeyScopes, unauthenticated, type Caller, type UserLookup } from "@tessera/platform";

/** A live API key as identity knows it. */
export interface KnownApiKey {
  keyId: string;
  tenantId: string;
  userId: string;
  scopes: string[];
}

/** What the edge reads to authenticate; every port answers from the platform cache on a hit. */
export interface EdgeAuthenticationPorts {
  /** The live key behind a presented secret, or null (unknown or revoked). */
  apiKeys: { find(secret: string): Promise<KnownApiKey | null> };
  users: UserLookup;
  sessions: { isLive(sessionId: string): Promise<boolean> };
  /** A caller token the services verify locally, for an API-key caller (reused until shortly before it expires). */
  callerTokens: { tokenFor(caller: Caller): Promise<string> };
  /** The role an access token was signed with (it may predate a role change). */
  roleOfAccessToken(accessToken: string): string | undefined;
}

/** The signed-in account whose session a browser request acts for. */
export interface SessionCredential {
  tenantId: string;
  userId: string;
  sessionId: string;
  accessToken: string;
}

const invalidKey = () => unauthenticated("Incorrect API key provided.", "invalid_api_key");
const sessionEnded = () => unauthenticated("Your session has ended; sign in again.", "session_ended");

/**
 * Authenticates once, at the edge: a browser session or an API key becomes one verified Caller,
 * with the user's current role and status, and a token the services check locally.
 */
export function createEdgeAuthentication(ports: EdgeAuthenticationPorts) {
  return {
    /** An API key presented on the Host's tenant: the caller and the caller token to forward. */
    async apiKey(secret: string, tenantId: string): Promise<{ caller: Caller; token: string }> {
      if (!secret.startsWith(API_KEY_PREFIX) || secret.length > 200) throw invalidKey();
      const key = await ports.apiKeys.find(secret);
      if (!key || key.tenantId !== tenantId) throw invalidKey();
      const user = await ports.users.get(key.tenantId, key.userId);
      if (!user || user.status === "disabled") throw invalidKey();
      const scopes = knownKeyScopes(key.scopes);
      const caller: Caller = {
        tenantId: user.tenantId,
        userId: user.id,
        // A key never acts as an administrator or operator, whoever owns it.
        role: "user",
        platformRole: null,
        scopes: scopes.length > 0 ? scopes : DEFAULT_KEY_SCOPES,
        kind: "apiKey",
        sessionId: null,
        apiKeyId: key.keyId,
      };
      return { caller, token: await ports.callerTokens.tokenFor(caller) };
    },

    /**
     * A browser session: live, its user not disabled. `roleChanged` says the access token carries
     * a role the user no longer has (it must be refreshed before it is forwarded).
     */
    async session(account: SessionCredential): Promise<{ caller: Caller; roleChanged: boolean }> {
      const [live, user] = await Promise.all([ports.sessions.isLive(account.sessionId), ports.users.get(account.tenantId, account.userId)]);
      if (!live || !user || user.status === "disabled") throw sessionEnded();
      const caller: Caller = {
        tenantId: user.tenantId,
        userId: user.id,
        role: user.role,
        platformRole: user.platformRole,
        scopes: ALL_SCOPES,
        kind: "session",
        sessionId: account.sessionId,
        apiKeyId: null,
      };
      return { caller, roleChanged: ports.roleOfAccessToken(account.accessToken) !== user.role };
    },

    /** The role an access token was signed with (after a role change, whether a refreshed one already carries the new role). */
    signedWithRole: (accessToken: string): string | undefined => ports.roleOfAccessToken(accessToken),
  };
}

export type EdgeAuthentication = ReturnType<typeof createEdgeAuthentication>;
