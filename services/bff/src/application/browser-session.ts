/** One account signed in in a browser; tokens never leave the server. */
export interface SignedInAccount {
  userId: string;
  tenantId: string;
  sessionId: string;
  accessToken: string;
  accessExpiresAt: number;
  refreshToken: string;
  refreshExpiresAt: number;
  rememberMe: boolean;
  email: string;
  username: string;
  displayName: string;
  avatarUrl: string;
}

/** Server-side state behind the browser's session cookie. */
export interface BrowserSession {
  activeUserId: string | null;
  accounts: SignedInAccount[];
}

export interface BrowserSessionStore {
  load(cookieValue: string): Promise<BrowserSession | null>;
  save(cookieValue: string, session: BrowserSession): Promise<void>;
  delete(cookieValue: string): Promise<void>;
}

export function activeAccount(session: BrowserSession | null, tenantId: string): SignedInAccount | undefined {
  if (!session?.activeUserId) return undefined;
  return session.accounts.find((account) => account.userId === session.activeUserId && account.tenantId === tenantId);
}

/** How long the cookie and its stored state live: the longest refresh lifetime left, at least one day. */
export function browserSessionTtlSeconds(session: BrowserSession, now: number): number {
  const longest = Math.max(0, ...session.accounts.map((account) => account.refreshExpiresAt - now));
  return Math.max(24 * 3600, Math.ceil(longest / 1000));
}
