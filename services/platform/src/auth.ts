import { createLocalJWKSet, decodeJwt, jwtVerify, errors as joseErrors, type JSONWebKeySet, type JWTPayload } from "jose";
import { ALL_SCOPES, DEFAULT_KEY_SCOPES, knownKeyScopes, type Caller } from "./caller.ts";
import { createCache } from "./cache.ts";
import { unauthenticated } from "./errors.ts";

export const ACCESS_TOKEN_ISSUER = "tessera-session";
/** Access tokens of browser sessions. */
export const ACCESS_TOKEN_AUDIENCE = "tessera";
/** Caller tokens the session service signs for API-key callers verified at the edge (internal only). */
export const CALLER_TOKEN_AUDIENCE = "tessera-internal";
export const ACCESS_TOKEN_ALGORITHM = "ES256";

/** Verifies a bearer token locally into the Caller it stands for. */
export type CallerVerifier = (token: string | undefined) => Promise<Caller>;

/**
 * The services' one check of who a call acts for, without a network call per request: an access
 * token (browser session) or a caller token (API key), both ES256 from the session service, checked
 * against its JWKS (fetched once, again only for an unknown key id, at most every 5 s). Whether the
 * session or key is still live, and the user's current role and status, were settled at the edge
 * (the BFF, the only public surface) from caches the invalidation bus keeps exact.
 */
export function createCallerVerifier(fetchJwks: () => Promise<JSONWebKeySet>): CallerVerifier {
  let keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  let lastFetch = 0;
  const options = { algorithms: [ACCESS_TOKEN_ALGORITHM], issuer: ACCESS_TOKEN_ISSUER, audience: [ACCESS_TOKEN_AUDIENCE, CALLER_TOKEN_AUDIENCE] };

  const refreshKeys = async () => {
    keySet = createLocalJWKSet(await fetchJwks());
    lastFetch = Date.now();
  };

  const verifySignature = async (token: string) => {
    if (!keySet) await refreshKeys();
    try {
      return await jwtVerify(token, keySet!, options);
    } catch (error) {
      // A key we have not seen yet (rotation): refetch at most every 5 s, then try once more.
      if (error instanceof joseErrors.JWKSNoMatchingKey && Date.now() - lastFetch > 5_000) {
        await refreshKeys();
        return jwtVerify(token, keySet!, options);
      }
      throw error;
    }
  };

  // A token is verified once per process: the same caller token or access token comes with every
  // call for minutes, and what its signature and claims say cannot change until it expires.
  const verified = createCache<{ caller: Caller; expiresAtMs: number }>({ name: "verifiedTokens", ttlMs: 60_000, maxEntries: 20_000 });

  return async (token) => {
    if (!token) throw unauthenticated();
    const known = verified.get(token);
    if (known && known.expiresAtMs > Date.now()) return known.caller;
    let payload: JWTPayload;
    try {
      ({ payload } = await verifySignature(token));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated("The access token has expired.", "token_expired");
      if (error instanceof joseErrors.JOSEError) throw unauthenticated("The access token is not valid.", "invalid_token");
      throw error;
    }
    const caller = callerOfClaims(payload);
    if (!caller) throw unauthenticated("The access token is not valid.", "invalid_token");
    if (typeof payload.exp === "number") verified.set(token, { caller, expiresAtMs: payload.exp * 1000 });
    return caller;
  };
}

/** The Caller a verified token's claims describe, or null when they are incomplete. */
export function callerOfClaims(payload: JWTPayload): Caller | null {
  const { sub, tid, role, sid, aud, prl, scp, akid } = payload as Record<string, unknown>;
  if (typeof sub !== "string" || typeof tid !== "string" || (role !== "user" && role !== "admin")) return null;
  const platformRole = prl === "operator" ? "operator" : null;
  const audiences = Array.isArray(aud) ? aud : [aud];
  if (audiences.includes(CALLER_TOKEN_AUDIENCE)) {
    if (typeof akid !== "string") return null;
    const scopes = knownKeyScopes(scp);
    return { tenantId: tid, userId: sub, role, platformRole, scopes: scopes.length > 0 ? scopes : DEFAULT_KEY_SCOPES, kind: "apiKey", sessionId: null, apiKeyId: akid };
  }
  if (typeof sid !== "string") return null;
  return { tenantId: tid, userId: sub, role, platformRole, scopes: ALL_SCOPES, kind: "session", sessionId: sid, apiKeyId: null };
}

/** The role an access token was signed with, read without verifying it (for tokens the caller itself stored). */
export function roleOfStoredAccessToken(token: string): string | undefined {
  try {
    const role = decodeJwt(token).role;
    return typeof role === "string" ? role : undefined;
  } catch {
    return undefined;
  }
}
