import { forbidden, newId, notFound, randomSecret, unauthenticated, type Caller, type Clock, type SessionGrant } from "@tessera/platform";
import type { AccessTokenSigner, CallerTokenClaims, GrantLedger, RefreshStore, SessionCache, SessionEnds, SessionEvents, SessionRepository, TokenHasher, UserDirectory } from "../domain/ports.ts";
import { ACCESS_TOKEN_TTL_SECONDS, CALLER_TOKEN_TTL_SECONDS, REFRESH_GRACE_SECONDS, isLive, parseRefreshToken, refreshLifetimeSeconds, type Session } from "../domain/session.ts";

export interface SessionPorts {
  sessions: SessionRepository;
  refresh: RefreshStore;
  ends: SessionEnds;
  cache: SessionCache;
  grants: GrantLedger;
  signer: AccessTokenSigner;
  users: UserDirectory;
  events: SessionEvents;
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
  const { sessions, cache, signer, hasher, clock, refresh: refreshStore } = ports;

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

  // The refresh state goes first: once it is gone nothing can revive the session, whatever the
  // database write behind it does.
  const revoke = async (sessionId: string, reason: string) => {
    await refreshStore.end(sessionId);
    const at = clock.now();
    const session = await sessions.revoke(sessionId, reason, at);
    await ports.ends.ended([sessionId], at);
    await cache.setLive(sessionId, false).catch(() => undefined);
    await ports.events.ended([sessionId]);
    return session;
  };

  /** Sessions of earlier versions have their refresh state only in the database: moved to Redis once. */
  const seedLegacy = async (sessionId: string, now: Date): Promise<boolean> => {
    const stored = await sessions.findById(sessionId);
    if (!stored || stored.refreshInRedis || !isLive(stored, now)) return false;
    return refreshStore.seed(sessionId, {
      tenantId: stored.tenantId,
      userId: stored.userId,
      role: stored.role,
      rememberMe: stored.rememberMe,
      expiresAt: stored.expiresAt,
      refreshHash: stored.refreshHash,
    });
  };

  return {
    /** Opens a session for the user identity's grant names (verified by the caller); each grant opens one. */
    async createSession(grant: SessionGrant, options: { rememberMe: boolean; deviceInfo: string; ip: string }) {
      if (!(await ports.grants.claim(grant.grantId, grant.expiresAt))) throw forbidden("This sign-in was already used to open a session.", "session_grant_used");
      const input = { tenantId: grant.tenantId, userId: grant.userId, role: grant.role, ...options };
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
      // Redis first (with the session's end, for the purge): a document is never stored unindexed.
      await refreshStore.put(id, {
        tenantId: session.tenantId,
        userId: session.userId,
        role: session.role,
        rememberMe: session.rememberMe,
        expiresAt: session.expiresAt,
        refreshHash: session.refreshHash,
      });
      await sessions.create(session);
      return issue(session, `${id}.${secret}`);
    },

    /**
     * Rotates the refresh token: one script in Redis decides (current token → rotated; the token
     * it replaced within the grace window → the same successor, for racing tabs; anything else →
     * reuse, and the whole session is revoked). The database is written behind for session lists.
     * A session Redis does not know is over (a wiped Redis signs people out, and cannot revive a
     * revoked session), except one of an earlier version, moved to Redis on its first refresh.
     */
    async refresh(refreshToken: string, ip: string): Promise<IssuedTokens> {
      const parsed = parseRefreshToken(refreshToken);
      if (!parsed) throw invalidRefresh();
      const presentedHash = hasher.hash(parsed.secret);
      const secret = randomSecret();
      const candidate = { token: `${parsed.sessionId}.${secret}`, hash: hasher.hash(secret) };
      const now = clock.now();
      const rotate = () =>
        refreshStore.rotate(
          parsed.sessionId,
          presentedHash,
          candidate,
          now,
          { rememberedMs: refreshLifetimeSeconds(true) * 1000, sessionMs: refreshLifetimeSeconds(false) * 1000 },
          REFRESH_GRACE_SECONDS * 1000,
        );
      let outcome = await rotate();
      if (outcome.kind === "missing" && (await seedLegacy(parsed.sessionId, now))) outcome = await rotate();
      if (outcome.kind === "missing" || outcome.kind === "ended") throw invalidRefresh();
      if (outcome.kind === "reused") {
        await revoke(parsed.sessionId, "refresh_token_reused");
        throw unauthenticated("This sign-in was ended because an old refresh token was used again.", "refresh_token_reused");
      }
      const { state } = outcome;
      const user = await ports.users.current(state.tenantId, state.userId);
      if (!user || user.status === "disabled") {
        await revoke(parsed.sessionId, "user_disabled");
        throw invalidRefresh();
      }
      if (user.role !== state.role) await refreshStore.setRole(parsed.sessionId, user.role);
      if (outcome.kind === "rotated")
        await sessions.touch(parsed.sessionId, { lastUsedAt: now, expiresAt: state.expiresAt, ip: ip.slice(0, 64), role: user.role });
      const session: Session = {
        id: parsed.sessionId,
        tenantId: state.tenantId,
        userId: state.userId,
        role: user.role,
        deviceInfo: "",
        ip: ip.slice(0, 64),
        rememberMe: state.rememberMe,
        createdAt: now,
        lastUsedAt: now,
        expiresAt: state.expiresAt,
        refreshHash: "",
        previousRefreshHash: null,
        rotatedAt: now,
        revokedAt: null,
        revokedReason: null,
      };
      return issue(session, outcome.token);
    },

    async revokeByRefreshToken(refreshToken: string): Promise<void> {
      const parsed = parseRefreshToken(refreshToken);
      if (!parsed) return;
      const hash = hasher.hash(parsed.secret);
      const state = (await refreshStore.get(parsed.sessionId)) ?? (await sessions.findById(parsed.sessionId));
      if (state && (state.refreshHash === hash || state.previousRefreshHash === hash)) await revoke(parsed.sessionId, "logout");
    },

    async listMine(claims: Caller) {
      const list = await sessions.listLive(claims.tenantId, claims.userId, clock.now());
      return list.map((session) => ({ session, current: session.id === claims.sessionId }));
    },

    async revokeMine(claims: Caller, sessionId: string): Promise<void> {
      const session = await sessions.findById(sessionId);
      // Another user's (or tenant's) session looks exactly like a missing one.
      if (!session || session.tenantId !== claims.tenantId || session.userId !== claims.userId || session.revokedAt) throw notFound("session");
      await revoke(sessionId, "revoked_by_user");
    },

    async revokeAllMine(claims: Caller): Promise<void> {
      await this.revokeUserSessions(claims.tenantId, claims.userId, "logout_all");
    },

    /** After a password change: every other device signs in again. */
    async revokeMyOthers(claims: Caller): Promise<void> {
      await this.revokeUserSessions(claims.tenantId, claims.userId, "password_changed", claims.sessionId ?? undefined);
    },

    async revokeUserSessions(tenantId: string, userId: string, reason = "user_disabled", exceptId?: string): Promise<void> {
      const at = clock.now();
      const ids = await sessions.revokeAllOfUser(tenantId, userId, reason, at, exceptId);
      await ports.ends.ended(ids, at);
      await Promise.all(ids.map((id) => Promise.all([refreshStore.end(id), cache.setLive(id, false).catch(() => undefined)])));
      if (ids.length > 0) await ports.events.ended(ids);
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

    /**
     * Deletes the sessions that ended (expired or were revoked) before `before`: asks the index of
     * ends for what is due and deletes those by id, so an idle purge reads nothing. Stored
     * sessions the index does not know (first run, wiped Redis) are indexed first, once.
     */
    async purgeEnded(before: Date, batch = 500): Promise<number> {
      if (!(await ports.ends.isComplete())) {
        let entries: Array<{ id: string; endsAt: Date }> = [];
        for await (const entry of sessions.endsOfAll()) {
          entries.push(entry);
          if (entries.length === batch) {
            await ports.ends.addMissing(entries);
            entries = [];
          }
        }
        await ports.ends.addMissing(entries);
        await ports.ends.markComplete();
      }
      let purged = 0;
      for (;;) {
        const due = await ports.ends.due(before, batch);
        if (due.length === 0) return purged;
        purged += await sessions.deleteByIds(due);
        await ports.ends.forget(due);
      }
    },

    /** A short-lived caller token for an API-key caller the edge has just verified. */
    async issueCallerToken(claims: CallerTokenClaims): Promise<{ token: string; expiresAt: Date }> {
      const token = await signer.signCaller(claims, CALLER_TOKEN_TTL_SECONDS);
      return { token, expiresAt: new Date(clock.now().getTime() + CALLER_TOKEN_TTL_SECONDS * 1000) };
    },
  };
}

export type SessionUseCases = ReturnType<typeof createSessionUseCases>;
