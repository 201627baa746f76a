import { newId, notFound, randomSecret, unauthenticated, type AccessClaims, type Clock } from "@tessera/platform";
import type { AccessTokenSigner, SessionCache, SessionRepository, TokenHasher, UserDirectory } from "../domain/ports.ts";
import {
  ACCESS_TOKEN_TTL_SECONDS,
  REFRESH_GRACE_SECONDS,
  isLive,
  parseRefreshToken,
  refreshLifetimeSeconds,
  type Session,
} from "../domain/session.ts";

export interface SessionPorts {
  sessions: SessionRepository;
  cache: SessionCache;
  signer: AccessTokenSigner;
  users: UserDirectory;
  hasher: TokenHasher;
  clock: Clock;
}

export interface IssuedTokens {
  accessToken: string;
  accessExpiresAt: Date;
  refreshToken: string;
  refreshExpiresAt: Date;
  session: Session;
}

const invalidRefresh = () => unauthenticated("The session has ended; sign in again.", "invalid_refresh_token");

export function createSessionUseCases(ports: SessionPorts) {
  const { sessions, cache, signer, hasher, clock } = ports;

  const issue = async (session: Session, refreshToken: string): Promise<IssuedTokens> => {
    const now = clock.now();
    const accessToken = await signer.sign(
      { userId: session.userId, tenantId: session.tenantId, role: session.role, sessionId: session.id },
      ACCESS_TOKEN_TTL_SECONDS,
    );
    return {
      accessToken,
      accessExpiresAt: new Date(now.getTime() + ACCESS_TOKEN_TTL_SECONDS * 1000),
      refreshToken,
      refreshExpiresAt: session.expiresAt,
      session,
    };
  };

  const revoke = async (sessionId: string, reason: string) => {
    const session = await sessions.revoke(sessionId, reason, clock.now());
    await cache.setLive(sessionId, false).catch(() => undefined);
    return session;
  };

  return {
    async createSession(input: { tenantId: string; userId: string; role: Session["role"]; rememberMe: boolean; deviceInfo: string; ip: string }) {
      const now = clock.now();
      const id = newId();
      const secret = randomSecret();
      const session: Session = {
        id,
        tenantId: input.tenantId,
        userId: input.userId,
        role: input.role,
        deviceInfo: input.deviceInfo.slice(0, 300),
        ip: input.ip.slice(0, 64),
        rememberMe: input.rememberMe,
        createdAt: now,
        lastUsedAt: now,
        expiresAt: new Date(now.getTime() + refreshLifetimeSeconds(input.rememberMe) * 1000),
        refreshHash: hasher.hash(secret),
        previousRefreshHash: null,
        rotatedAt: null,
        revokedAt: null,
        revokedReason: null,
      };
      await sessions.create(session);
      return issue(session, `${id}.${secret}`);
    },

    /** Rotates the refresh token; a replayed old token revokes the whole session. */
    async refresh(refreshToken: string, ip: string): Promise<IssuedTokens> {
      const parsed = parseRefreshToken(refreshToken);
      if (!parsed) throw invalidRefresh();
      const session = await sessions.findById(parsed.sessionId);
      const now = clock.now();
      if (!session || !isLive(session, now)) throw invalidRefresh();
      const presentedHash = hasher.hash(parsed.secret);

      if (presentedHash === session.refreshHash) {
        const user = await ports.users.current(session.tenantId, session.userId);
        if (!user || user.status === "disabled") {
          await revoke(session.id, "user_disabled");
          throw invalidRefresh();
        }
        const candidate = `${session.id}.${randomSecret()}`;
        const successor = await cache.claimSuccessor(presentedHash, candidate, REFRESH_GRACE_SECONDS).catch(() => null);
        const next = successor ?? candidate;
        if (next === candidate) {
          const nextSecret = parseRefreshToken(candidate)!.secret;
          const expiresAt = new Date(now.getTime() + refreshLifetimeSeconds(session.rememberMe) * 1000);
          const rotated = await sessions.rotate(session.id, presentedHash, { refreshHash: hasher.hash(nextSecret), rotatedAt: now, expiresAt, ip: ip.slice(0, 64), role: user.role });
          if (!rotated) throw invalidRefresh();
          return issue({ ...session, role: user.role, expiresAt, lastUsedAt: now }, candidate);
        }
        return issue({ ...session, role: user.role }, next);
      }

      const inGrace =
        presentedHash === session.previousRefreshHash &&
        session.rotatedAt !== null &&
        now.getTime() - session.rotatedAt.getTime() <= REFRESH_GRACE_SECONDS * 1000;
      if (inGrace) {
        const successor = await cache.getSuccessor(presentedHash).catch(() => null);
        if (successor) return issue(session, successor);
      }
      await revoke(session.id, "refresh_token_reused");
      throw unauthenticated("This sign-in was ended because an old refresh token was used again.", "refresh_token_reused");
    },

    async revokeByRefreshToken(refreshToken: string): Promise<void> {
      const parsed = parseRefreshToken(refreshToken);
      if (!parsed) return;
      const session = await sessions.findById(parsed.sessionId);
      const hash = hasher.hash(parsed.secret);
      if (session && (session.refreshHash === hash || session.previousRefreshHash === hash)) await revoke(session.id, "logout");
    },

    async listMine(claims: AccessClaims) {
      const list = await sessions.listLive(claims.tenantId, claims.userId, clock.now());
      return list.map((session) => ({ session, current: session.id === claims.sessionId }));
    },

    async revokeMine(claims: AccessClaims, sessionId: string): Promise<void> {
      const session = await sessions.findById(sessionId);
      // Another user's (or tenant's) session looks exactly like a missing one.
      if (!session || session.tenantId !== claims.tenantId || session.userId !== claims.userId || session.revokedAt) throw notFound("session");
      await revoke(sessionId, "revoked_by_user");
    },

    async revokeAllMine(claims: AccessClaims): Promise<void> {
      await this.revokeUserSessions(claims.tenantId, claims.userId, "logout_all");
    },

    /** After a password change: every other device signs in again. */
    async revokeMyOthers(claims: AccessClaims): Promise<void> {
      await this.revokeUserSessions(claims.tenantId, claims.userId, "password_changed", claims.sessionId);
    },

    async revokeUserSessions(tenantId: string, userId: string, reason = "user_disabled", exceptId?: string): Promise<void> {
      const ids = await sessions.revokeAllOfUser(tenantId, userId, reason, clock.now(), exceptId);
      await Promise.all(ids.map((id) => cache.setLive(id, false).catch(() => undefined)));
    },

    /** Liveness for access-token verifiers: cached in Redis, the database decides on a miss. */
    async isActive(sessionId: string): Promise<boolean> {
      const cached = await cache.getLive(sessionId).catch(() => null);
      if (cached !== null) return cached;
      const session = await sessions.findById(sessionId);
      const live = session !== null && isLive(session, clock.now());
      await cache.setLive(sessionId, live).catch(() => undefined);
      return live;
    },

    jwks: () => signer.jwks(),
  };
}

export type SessionUseCases = ReturnType<typeof createSessionUseCases>;
