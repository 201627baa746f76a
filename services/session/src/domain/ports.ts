import type { Session } from "./session.ts";

export interface SessionRepository {
  create(session: Session): Promise<void>;
  findById(id: string): Promise<Session | null>;
  /** Compare-and-set rotation: succeeds only while expectedHash is still the current hash. */
  rotate(id: string, expectedHash: string, next: { refreshHash: string; rotatedAt: Date; expiresAt: Date; ip: string; role: Session["role"] }): Promise<boolean>;
  revoke(id: string, reason: string, at: Date): Promise<Session | null>;
  /** Revokes the user's live sessions (but `exceptId`) and returns their ids. */
  revokeAllOfUser(tenantId: string, userId: string, reason: string, at: Date, exceptId?: string): Promise<string[]>;
  listLive(tenantId: string, userId: string, now: Date): Promise<Session[]>;
  /** Deletes sessions that expired or were revoked long ago. */
  purgeEndedBefore(before: Date): Promise<number>;
}

/** Short-lived state in Redis: the grace-window successor and cached liveness. */
export interface SessionCache {
  /**
   * Stores the successor of a refresh token unless one is stored already, and returns the stored
   * one (ours when we were first). null when the cache cannot be reached.
   */
  claimSuccessor(previousHash: string, candidate: string, ttlSeconds: number): Promise<string | null>;
  getSuccessor(previousHash: string): Promise<string | null>;
  setLive(sessionId: string, live: boolean): Promise<void>;
  getLive(sessionId: string): Promise<boolean | null>;
}

export interface AccessTokenSigner {
  sign(claims: { userId: string; tenantId: string; role: string; sessionId: string }, ttlSeconds: number): Promise<string>;
  jwks(): Promise<{ keys: object[] }>;
}

/** What the session service needs to know about a user when a session is refreshed. */
export interface UserDirectory {
  current(tenantId: string, userId: string): Promise<{ role: Session["role"]; status: string } | null>;
}

export interface TokenHasher {
  hash(secret: string): string;
}
