import type { Session } from "./session.ts";

export interface SessionRepository {
  create(session: Session): Promise<void>;
  /** The session; `refreshInRedis` false for sessions of earlier versions (refresh state only here). */
  findById(id: string): Promise<(Session & { refreshInRedis: boolean }) | null>;
  revoke(id: string, reason: string, at: Date): Promise<Session | null>;
  /** Revokes the user's live sessions (but `exceptId`) and returns their ids. */
  revokeAllOfUser(tenantId: string, userId: string, reason: string, at: Date, exceptId?: string): Promise<string[]>;
  listLive(tenantId: string, userId: string, now: Date): Promise<Session[]>;
  /** Records a rotation for session lists (written behind: not on the refresh path). */
  touch(id: string, changes: { lastUsedAt: Date; expiresAt: Date; ip: string; role: Session["role"] }): Promise<void>;
  /** Deletes these sessions (each by its id: the store's primary key serves it); returns how many there were. */
  deleteByIds(ids: string[]): Promise<number>;
  /** When each stored session ends (its expiry, or its revocation if earlier). Reads every session: for indexing them once. */
  endsOfAll(): AsyncIterable<{ id: string; endsAt: Date }>;
}

/**
 * When each session ends, ordered by time (Redis), so that purging costs what is due and never
 * what is stored: the refresh store keeps a live session's entry at its sliding expiry, a
 * revocation moves it to the moment of revocation.
 */
export interface SessionEnds {
  /** The sessions ended at `at` (revoked); an earlier end stays. */
  ended(ids: string[], at: Date): Promise<void>;
  /** Records ends of sessions the index does not know yet (indexing stored sessions). */
  addMissing(entries: Array<{ id: string; endsAt: Date }>): Promise<void>;
  /** Up to `limit` sessions that ended before `before`, earliest first. */
  due(before: Date, limit: number): Promise<string[]>;
  forget(ids: string[]): Promise<void>;
  /** Whether every stored session is known (false on the first run and after a wiped Redis). */
  isComplete(): Promise<boolean>;
  markComplete(): Promise<void>;
}

/** What refreshing a session needs, kept where one atomic operation can rotate it. */
export interface RefreshState {
  tenantId: string;
  userId: string;
  role: Session["role"];
  rememberMe: boolean;
  expiresAt: Date;
  /** Hash of the one refresh token that may be used next. */
  refreshHash: string;
  previousRefreshHash?: string | null;
}

export type RotationOutcome =
  | { kind: "rotated" | "grace"; token: string; state: Omit<RefreshState, "refreshHash" | "previousRefreshHash"> }
  | { kind: "missing" }
  | { kind: "ended" }
  | { kind: "reused" };

/**
 * Refresh tokens (Redis): rotation with reuse detection and the racing-tab grace window as one
 * atomic operation. "missing": the store does not know the session (never, or it lost its data).
 */
export interface RefreshStore {
  put(sessionId: string, state: RefreshState): Promise<void>;
  /** Stores the state unless the store has the session already; true when it was stored. */
  seed(sessionId: string, state: RefreshState): Promise<boolean>;
  get(sessionId: string): Promise<RefreshState | null>;
  /**
   * The presented hash is the current one: the candidate becomes current ("rotated", the
   * candidate's token). It is the one replaced within the grace window: "grace" with the token
   * that replaced it. Anything else: "reused", and the session's state is gone.
   */
  rotate(
    sessionId: string,
    presentedHash: string,
    candidate: { token: string; hash: string },
    now: Date,
    lifetimes: { rememberedMs: number; sessionMs: number },
    graceMs: number,
  ): Promise<RotationOutcome>;
  setRole(sessionId: string, role: Session["role"]): Promise<void>;
  /** The session can no longer be refreshed. */
  end(sessionId: string): Promise<void>;
}

/** Cached liveness answers in Redis. */
/** Identity's session grants are single use: the first claim of a grant id wins. */
export interface GrantLedger {
  claim(grantId: string, expiresAt: Date): Promise<boolean>;
}

export interface SessionCache {
  setLive(sessionId: string, live: boolean): Promise<void>;
  getLive(sessionId: string): Promise<boolean | null>;
}

export interface AccessTokenSigner {
  sign(claims: { userId: string; tenantId: string; role: string; sessionId: string }, ttlSeconds: number): Promise<string>;
  /** A caller token (internal audience) for an API-key caller the edge verified. */
  signCaller(caller: CallerTokenClaims, ttlSeconds: number): Promise<string>;
  jwks(): Promise<{ keys: object[] }>;
}

export interface CallerTokenClaims {
  tenantId: string;
  userId: string;
  role: "user" | "admin";
  platformRole: "operator" | null;
  scopes: readonly string[];
  apiKeyId: string;
}

/** Tells every process's caches that sessions ended (resolves once the news is out). */
export interface SessionEvents {
  ended(sessionIds: string[]): Promise<void>;
}

/** What the session service needs to know about a user when a session is refreshed. */
export interface UserDirectory {
  current(tenantId: string, userId: string): Promise<{ role: Session["role"]; status: string } | null>;
}

export interface TokenHasher {
  hash(secret: string): string;
}
