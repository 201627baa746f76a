import { AppError } from "@tessera/platform";

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
  /** When it was signed in here (ms); accounts are listed, and the next active one chosen, in this order. */
  signedInAt: number;
}

/** Server-side state behind the browser's session cookie. */
export interface BrowserSession {
  activeUserId: string | null;
  accounts: SignedInAccount[];
  /** Where it is stored (the cookie's value); null until it is first saved. Never persisted itself. */
  storeKey: string | null;
}

/** The token fields of an account; only a refresh changes them. */
export type AccountTokens = Pick<SignedInAccount, "accessToken" | "accessExpiresAt" | "refreshToken" | "refreshExpiresAt">;

export type AccountProfile = Pick<SignedInAccount, "userId" | "sessionId" | "email" | "username" | "displayName" | "avatarUrl">;

/**
 * What one request changed in a browser session, field by field, so that it is applied to the
 * stored state of the moment instead of writing back the copy the request loaded (two requests of
 * one browser run at once: a refresh, a switch, a sign-out). Tokens are not here: a refresh stores
 * them itself, under the account's lock, only over the token it refreshed.
 */
export interface BrowserSessionChanges {
  /** Accounts signed in by this request (a new session): stored whole. */
  put: SignedInAccount[];
  /** Accounts this request signed out or found ended; removed only while still that session. */
  remove: Array<{ userId: string; sessionId: string }>;
  /** Profiles this request learned; applied only while the account is still that session. */
  profiles: AccountProfile[];
  /** The account this request made active (undefined: it did not choose one). */
  activeUserId?: string | null;
}

/** A stored state as written; `moved`: the key was left by a sign-in (a new cookie value) after this request loaded it, and followed. */
export type StoredBrowserSession = BrowserSession & { moved: boolean };

export interface BrowserSessionStore {
  /** The stored state, or null when there is none (also when a sign-in moved it to a new cookie value). */
  load(key: string): Promise<BrowserSession | null>;
  /**
   * Applies one request's changes atomically to the state stored now and returns the result: null
   * when nothing is stored (and `create` is false: a browser session ended meanwhile is never
   * revived), empty accounts when the last one was just removed (the state is deleted). `from`
   * moves the state stored under another key first (a new cookie value after signing in); writes of
   * requests that loaded it under the old key follow it there for a while (`moved`). When the active account is gone, the earliest
   * signed-in account of `tenantId` becomes active. Accounts signed in beyond the limit (two
   * sign-ins at once) are refused as a whole: too_many_accounts, nothing changed.
   */
  apply(key: string, changes: BrowserSessionChanges, options: { tenantId: string; create: boolean; from?: string }): Promise<StoredBrowserSession | null>;
  /**
   * Runs `task` with the newest stored copy of an account (null: no longer stored) while no other
   * request of this browser runs one for that account, on any replica: one refresh at a time.
   */
  exclusive<T>(key: string, userId: string, task: (stored: SignedInAccount | null) => Promise<T>): Promise<T>;
  /**
   * Stores refreshed tokens unless the stored refresh token is no longer `replacing` (compare and
   * set); returns the stored account afterwards, or null when it is no longer stored.
   */
  saveTokens(key: string, userId: string, replacing: string, tokens: AccountTokens): Promise<SignedInAccount | null>;
}

export const tooManyAccounts = (maxAccounts: number) =>
  new AppError("too_many_accounts", 409, `At most ${maxAccounts} accounts can be signed in at once; sign one out first.`);

export function emptyBrowserSession(): BrowserSession {
  return { activeUserId: null, accounts: [], storeKey: null };
}

export function activeAccount(session: BrowserSession | null, tenantId: string): SignedInAccount | undefined {
  if (!session?.activeUserId) return undefined;
  return session.accounts.find((account) => account.userId === session.activeUserId && account.tenantId === tenantId);
}

/** How long the cookie and its stored state live: the longest refresh lifetime left, at least one day. */
export function browserSessionTtlSeconds(session: Pick<BrowserSession, "accounts">, now: number): number {
  const longest = Math.max(0, ...session.accounts.map((account) => account.refreshExpiresAt - now));
  return Math.max(24 * 3600, Math.ceil(longest / 1000));
}

const sameSession = (a: { userId: string; sessionId: string }) => (b: { userId: string; sessionId: string }) => a.userId === b.userId && a.sessionId === b.sessionId;
const profileOf = ({ userId, sessionId, email, username, displayName, avatarUrl }: SignedInAccount): AccountProfile => ({ userId, sessionId, email, username, displayName, avatarUrl });

/** What a request changed: `loaded` is the state it started from, `current` its copy now. */
export function changesBetween(loaded: BrowserSession, current: BrowserSession): BrowserSessionChanges {
  const put = current.accounts.filter((account) => !loaded.accounts.some(sameSession(account)));
  const remove = loaded.accounts.filter((account) => !current.accounts.some(sameSession(account))).map(({ userId, sessionId }) => ({ userId, sessionId }));
  const profiles = current.accounts
    .filter((account) => {
      const before = loaded.accounts.find(sameSession(account));
      return before !== undefined && JSON.stringify(profileOf(before)) !== JSON.stringify(profileOf(account));
    })
    .map(profileOf);
  const changes: BrowserSessionChanges = { put, remove, profiles };
  // Removing the active account is not choosing the next one: the store picks it from the state of the moment.
  const previousActiveStays = loaded.activeUserId === null || current.accounts.some((account) => account.userId === loaded.activeUserId);
  if (current.activeUserId !== loaded.activeUserId && previousActiveStays) changes.activeUserId = current.activeUserId;
  return changes;
}

export function hasChanges(changes: BrowserSessionChanges): boolean {
  return changes.put.length > 0 || changes.remove.length > 0 || changes.profiles.length > 0 || changes.activeUserId !== undefined;
}
