export interface Session {
  id: string;
  tenantId: string;
  userId: string;
  role: "user" | "admin";
  deviceInfo: string;
  ip: string;
  rememberMe: boolean;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  /** Hash of the one refresh token that may be used next. */
  refreshHash: string;
  /** Hash of the token it replaced, honoured only within the grace window after rotatedAt. */
  previousRefreshHash: string | null;
  rotatedAt: Date | null;
  revokedAt: Date | null;
  revokedReason: string | null;
}

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
/** Caller tokens of API-key callers: the edge caches one until shortly before it expires. */
export const CALLER_TOKEN_TTL_SECONDS = 5 * 60;
export const REFRESH_TTL_REMEMBER_SECONDS = 30 * 24 * 3600;
export const REFRESH_TTL_SESSION_SECONDS = 24 * 3600;
/** Two tabs refreshing the same token at once both get the same successor within this window. */
export const REFRESH_GRACE_SECONDS = 10;

export function refreshLifetimeSeconds(rememberMe: boolean): number {
  return rememberMe ? REFRESH_TTL_REMEMBER_SECONDS : REFRESH_TTL_SESSION_SECONDS;
}

export function isLive(session: Session, now: Date): boolean {
  return session.revokedAt === null && session.expiresAt.getTime() > now.getTime();
}

/** Refresh tokens are "<session id>.<secret>" so that a replayed old token still names its family. */
export function parseRefreshToken(token: string): { sessionId: string; secret: string } | null {
  const dot = token.indexOf(".");
  if (dot <= 0 || dot === token.length - 1 || token.length > 200) return null;
  return { sessionId: token.slice(0, dot), secret: token.slice(dot + 1) };
}
