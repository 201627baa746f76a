import { SignJWT, errors as joseErrors, jwtVerify } from "jose";
import { forbidden } from "./errors.ts";
import { newId } from "./ids.ts";

const GRANT_ISSUER = "tessera-identity";
const GRANT_AUDIENCE = "tessera-session-grant";
/** Long enough for the BFF to pass it on, too short to be worth stealing. */
const GRANT_TTL_SECONDS = 60;

/** Who a session may be opened for, as identity vouches after checking the credentials. */
export interface SessionGrant {
  tenantId: string;
  userId: string;
  role: "user" | "admin";
  /** Unique per grant: the session service accepts each once. */
  grantId: string;
  expiresAt: Date;
}

const keyOf = (secret: string) => new TextEncoder().encode(secret);

/**
 * Identity's grant to open one session for a user who just signed in: HS256 with SESSION_GRANT_SECRET,
 * which only identity and the session service hold (not the shared internal token), so no other
 * service can mint a session.
 */
export function createSessionGrantSigner(secret: string) {
  const key = keyOf(secret);
  return (user: { tenantId: string; userId: string; role: string }): Promise<string> =>
    new SignJWT({ tid: user.tenantId, role: user.role })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(GRANT_ISSUER)
      .setAudience(GRANT_AUDIENCE)
      .setSubject(user.userId)
      .setJti(newId())
      .setIssuedAt()
      .setExpirationTime(`${GRANT_TTL_SECONDS}s`)
      .sign(key);
}

/** The session service's check of a grant: signature, issuer, audience, expiry; anything else is PERMISSION_DENIED. */
export function createSessionGrantVerifier(secret: string) {
  const key = keyOf(secret);
  const refused = () => forbidden("Only the identity service can open a session.", "session_grant_required");
  return async (grant: string): Promise<SessionGrant> => {
    if (!grant) throw refused();
    try {
      const { payload } = await jwtVerify(grant, key, { algorithms: ["HS256"], issuer: GRANT_ISSUER, audience: GRANT_AUDIENCE });
      const { sub, tid, role, jti, exp } = payload as Record<string, unknown>;
      if (typeof sub !== "string" || typeof tid !== "string" || typeof jti !== "string" || typeof exp !== "number" || (role !== "user" && role !== "admin")) throw refused();
      return { tenantId: tid, userId: sub, role, grantId: jti, expiresAt: new Date(exp * 1000) };
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) throw refused();
      throw error;
    }
  };
}

export type SessionGrantVerifier = ReturnType<typeof createSessionGrantVerifier>;
