import { createLocalJWKSet, jwtVerify, errors as joseErrors, type JSONWebKeySet } from "jose";
import { unauthenticated } from "./errors.ts";

/** Claims of an access token (SPEC §4). */
export interface AccessClaims {
  userId: string;
  tenantId: string;
  role: "user" | "admin";
  sessionId: string;
  tokenId: string;
  /** What an API key may do; absent for a signed-in session (everything its role allows). */
  scopes?: readonly ApiKeyScope[];
}

/** What a personal API key can be granted; a key created without a choice gets "inference" only. */
export const API_KEY_SCOPES = ["inference", "chats:read", "chats:write", "usage:read"] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];
export const DEFAULT_KEY_SCOPES: readonly ApiKeyScope[] = ["inference"];

/** Known scopes only, in their canonical order (unknown ones are never granted). */
export const knownKeyScopes = (values: readonly string[]): ApiKeyScope[] => API_KEY_SCOPES.filter((scope) => values.includes(scope));

export const ACCESS_TOKEN_ISSUER = "tessera-session";
export const ACCESS_TOKEN_AUDIENCE = "tessera";
export const ACCESS_TOKEN_ALGORITHM = "ES256";

export interface AccessTokenVerifierPorts {
  /** Fetches the current JWKS document from the session service. */
  fetchJwks(): Promise<JSONWebKeySet>;
  /** Asks the session service whether the session is still live. */
  isSessionActive(sessionId: string): Promise<boolean>;
}

/**
 * Verifies access tokens locally (ES256 only, known kid, issuer, audience, expiry) and checks that
 * the session was not revoked, caching "live" answers for at most one second.
 */
export function createAccessTokenVerifier(ports: AccessTokenVerifierPorts, liveCacheMs = 1_000) {
  let keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  let lastFetch = 0;
  const live = new Map<string, number>();
  const revoked = new Set<string>();

  const refreshKeys = async () => {
    keySet = createLocalJWKSet(await ports.fetchJwks());
    lastFetch = Date.now();
  };

  const verifySignature = async (token: string) => {
    if (!keySet) await refreshKeys();
    try {
      return await jwtVerify(token, keySet!, {
        algorithms: [ACCESS_TOKEN_ALGORITHM],
        issuer: ACCESS_TOKEN_ISSUER,
        audience: ACCESS_TOKEN_AUDIENCE,
      });
    } catch (error) {
      // A key we have not seen yet (rotation): refetch at most every 5 s, then try once more.
      if (error instanceof joseErrors.JWKSNoMatchingKey && Date.now() - lastFetch > 5_000) {
        await refreshKeys();
        return jwtVerify(token, keySet!, {
          algorithms: [ACCESS_TOKEN_ALGORITHM],
          issuer: ACCESS_TOKEN_ISSUER,
          audience: ACCESS_TOKEN_AUDIENCE,
        });
      }
      throw error;
    }
  };

  return async function verify(token: string | undefined): Promise<AccessClaims> {
    if (!token) throw unauthenticated();
    let payload;
    try {
      ({ payload } = await verifySignature(token));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated("The access token has expired.", "token_expired");
      if (error instanceof joseErrors.JOSEError) throw unauthenticated("The access token is not valid.", "invalid_token");
      throw error;
    }
    const { sub, tid, role, sid, jti } = payload as Record<string, unknown>;
    if (typeof sub !== "string" || typeof tid !== "string" || typeof sid !== "string" || typeof jti !== "string" || (role !== "user" && role !== "admin")) {
      throw unauthenticated("The access token is not valid.", "invalid_token");
    }
    if (revoked.has(sid)) throw unauthenticated("The session has ended.", "session_revoked");
    const checkedAt = live.get(sid);
    if (checkedAt === undefined || Date.now() - checkedAt >= liveCacheMs) {
      if (!(await ports.isSessionActive(sid))) {
        if (revoked.size > 100_000) revoked.clear();
        revoked.add(sid);
        live.delete(sid);
        throw unauthenticated("The session has ended.", "session_revoked");
      }
      if (live.size > 50_000) live.clear();
      live.set(sid, Date.now());
    }
    return { userId: sub, tenantId: tid, role, sessionId: sid, tokenId: jti };
  };
}

export type AccessTokenVerifier = ReturnType<typeof createAccessTokenVerifier>;
