import { createHash } from "node:crypto";
import { IdentityServiceService } from "@tessera/proto/tessera/identity/v1/identity";
import { SessionServiceService } from "@tessera/proto/tessera/session/v1/session";
import { createAccessTokenVerifier, knownKeyScopes, type AccessClaims } from "./auth.ts";
import { unauthenticated } from "./errors.ts";
import { createGrpcClient } from "./grpc.ts";

/** An access-token verifier backed by the session service (JWKS and session liveness). */
export function createSessionAccessTokenVerifier(options: { address: string; internalToken: string }) {
  const session = createGrpcClient(SessionServiceService, { name: "session", address: options.address, internalToken: options.internalToken, defaultDeadlineMs: 2_000 });
  const verify = createAccessTokenVerifier({
    fetchJwks: async () => JSON.parse((await session.getJwks({})).json),
    isSessionActive: async (sessionId) => (await session.checkSession({ sessionId })).active,
  });
  return { verify, session };
}

/** Personal API keys start with this; anything else presented as a bearer token is an access token. */
export const API_KEY_PREFIX = "tsk_";

/**
 * Verifies whoever a gRPC call acts for: an access token (JWT, checked locally) or a personal API
 * key (checked with the identity service, answers cached for at most one second).
 */
export function createCallerVerifier(options: { sessionAddress: string; identityAddress: string; internalToken: string }) {
  const { verify, session } = createSessionAccessTokenVerifier({ address: options.sessionAddress, internalToken: options.internalToken });
  const identity = createGrpcClient(IdentityServiceService, { name: "identity", address: options.identityAddress, internalToken: options.internalToken, defaultDeadlineMs: 2_000 });
  const keys = new Map<string, { claims: AccessClaims; at: number }>();
  const verifyCaller = async (token: string | undefined): Promise<AccessClaims> => {
    if (!token?.startsWith(API_KEY_PREFIX)) return verify(token);
    const digest = createHash("sha256").update(token).digest("base64url");
    const cached = keys.get(digest);
    if (cached && Date.now() - cached.at < 1_000) return cached.claims;
    const { user, scopes } = await identity.verifyApiKey({ tenantId: "", key: token });
    if (!user) throw unauthenticated("The API key is not valid.", "invalid_api_key");
    // A key never acts as an administrator, whoever owns it: admin routes refuse it in every service.
    const claims: AccessClaims = { userId: user.id, tenantId: user.tenantId, role: "user", sessionId: `apikey:${digest.slice(0, 16)}`, tokenId: digest.slice(0, 16), scopes: knownKeyScopes(scopes) };
    if (keys.size > 10_000) keys.clear();
    keys.set(digest, { claims, at: Date.now() });
    return claims;
  };
  return { verifyCaller, session, identity, close: () => (session.close(), identity.close()) };
}
