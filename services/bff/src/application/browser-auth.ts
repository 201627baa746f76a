import { AppError, notFound, unauthenticated } from "@tessera/platform";
import type { TokenPair } from "@tessera/proto/tessera/session/v1/session";
import type { User } from "@tessera/proto/tessera/identity/v1/identity";
import type { IdentityClient, SessionClient } from "../adapters/service-clients.ts";
import { activeAccount, tooManyAccounts, type AccountTokens, type BrowserSession, type BrowserSessionStore, type SignedInAccount } from "./browser-session.ts";

/** Refresh a little before expiry so a request never carries a token that dies on the way. */
const REFRESH_MARGIN_MS = 30_000;

export interface ClientInfo {
  ip: string;
  userAgent: string;
}

export function createBrowserAuth(deps: {
  identity: IdentityClient;
  session: SessionClient;
  store: Pick<BrowserSessionStore, "exclusive" | "saveTokens">;
  maxAccounts: number;
  now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  const tokensOf = (tokens: TokenPair): AccountTokens => ({
    accessToken: tokens.accessToken,
    accessExpiresAt: Date.parse(tokens.accessExpiresAt),
    refreshToken: tokens.refreshToken,
    refreshExpiresAt: Date.parse(tokens.refreshExpiresAt),
  });

  /**
   * Runs `task` with the newest copy of a stored account, one request of this browser at a time
   * (the request's own copy may be stale: another request refreshed it meanwhile). An account not
   * stored yet is the request's own.
   */
  const withNewest = <T>(browser: BrowserSession, account: SignedInAccount, task: (newest: SignedInAccount | null) => Promise<T>): Promise<T> =>
    browser.storeKey ? deps.store.exclusive(browser.storeKey, account.userId, (stored) => task(stored && stored.sessionId === account.sessionId ? stored : null)) : task(account);

  /** Ends an account's session with its newest refresh token (an older one may no longer name it). */
  const revokeNewest = (browser: BrowserSession, account: SignedInAccount, client: ClientInfo) =>
    withNewest(browser, account, (newest) => deps.session.revokeByRefreshToken({ refreshToken: (newest ?? account).refreshToken, ip: client.ip }).catch(() => undefined));

  const toAccount = (user: User, tokens: TokenPair, rememberMe: boolean): SignedInAccount => ({
    userId: user.id,
    tenantId: user.tenantId,
    sessionId: tokens.sessionId,
    ...tokensOf(tokens),
    rememberMe,
    email: user.email,
    username: user.username,
    displayName: user.fullName || user.username,
    avatarUrl: user.avatarUrl,
    signedInAt: now(),
  });

  /** Adds (or replaces) a signed-in account and makes it active; the oldest other account makes room past the limit. */
  const addAccount = async (browser: BrowserSession, signedIn: { user: User; sessionGrant: string }, rememberMe: boolean, client: ClientInfo) => {
    const { user } = signedIn;
    // Identity's grant is the only way to open a session: it names the user it just checked.
    const tokens = await deps.session.createSession({ sessionGrant: signedIn.sessionGrant, rememberMe, deviceInfo: client.userAgent, ip: client.ip });
    const replaced = browser.accounts.find((account) => account.userId === user.id);
    if (replaced) await revokeNewest(browser, replaced, client);
    let accounts = browser.accounts.filter((account) => account.userId !== user.id);
    if (accounts.length >= deps.maxAccounts) {
      throw tooManyAccounts(deps.maxAccounts);
    }
    accounts = [...accounts, toAccount(user, tokens, rememberMe)];
    browser.accounts = accounts;
    browser.activeUserId = user.id;
  };

  return {
    async register(browser: BrowserSession, input: { tenantId: string; email: string; username: string; password: string; fullName: string }, client: ClientInfo): Promise<User> {
      if (browser.accounts.length >= deps.maxAccounts && !browser.accounts.some((account) => account.email === input.email.trim().toLowerCase())) {
        throw tooManyAccounts(deps.maxAccounts);
      }
      const signedIn = await deps.identity.register({ ...input, clientIp: client.ip });
      await addAccount(browser, { user: signedIn.user!, sessionGrant: signedIn.sessionGrant }, false, client);
      return signedIn.user!;
    },

    async login(browser: BrowserSession, input: { tenantId: string; login: string; password: string; rememberMe: boolean; deviceId: string }, client: ClientInfo): Promise<User> {
      const signedIn = await deps.identity.verifyPassword({ tenantId: input.tenantId, login: input.login, password: input.password, clientIp: client.ip, deviceId: input.deviceId });
      await addAccount(browser, { user: signedIn.user!, sessionGrant: signedIn.sessionGrant }, input.rememberMe, client);
      return signedIn.user!;
    },

    /**
     * The provider's callback. A "login" flow signs the user in exactly as a password sign-in does
     * (a session, the account added to this browser and made active); a "link" flow links the
     * identity to the active account and leaves the browser's accounts as they are.
     */
    async completeProviderSignIn(
      browser: BrowserSession,
      input: { tenantId: string; provider: string; callbackQuery: string; browserBinding: string },
      client: ClientInfo,
    ): Promise<{ user: User; intent: string; returnTo: string }> {
      // The active account's token lets identity check that a "link" flow links to whoever started it.
      const accessToken = activeAccount(browser, input.tenantId) ? await this.accessToken(browser, input.tenantId, client).catch(() => undefined) : undefined;
      const completed = await deps.identity.completeOAuth({ ...input, clientIp: client.ip }, { accessToken });
      const user = completed.user!;
      if (completed.intent === "login") await addAccount(browser, { user, sessionGrant: completed.sessionGrant }, false, client);
      return { user, intent: completed.intent, returnTo: completed.returnTo };
    },

    /** Signs out the active account only; the next remaining account (if any) becomes active. */
    async logout(browser: BrowserSession, tenantId: string, client: ClientInfo): Promise<void> {
      const account = activeAccount(browser, tenantId);
      if (!account) return;
      await revokeNewest(browser, account, client);
      browser.accounts = browser.accounts.filter((other) => other.userId !== account.userId);
      browser.activeUserId = browser.accounts.find((other) => other.tenantId === tenantId)?.userId ?? null;
    },

    /** Revokes every session of the active user, here and on other devices. */
    async logoutAll(browser: BrowserSession, tenantId: string, client: ClientInfo): Promise<void> {
      const accessToken = await this.accessToken(browser, tenantId, client);
      await deps.session.revokeAllMySessions({}, { accessToken });
      const userId = browser.activeUserId;
      browser.accounts = browser.accounts.filter((other) => other.userId !== userId);
      browser.activeUserId = browser.accounts.find((other) => other.tenantId === tenantId)?.userId ?? null;
    },

    async switchAccount(browser: BrowserSession, tenantId: string, userId: string, client: ClientInfo): Promise<User> {
      const account = browser.accounts.find((candidate) => candidate.userId === userId && candidate.tenantId === tenantId);
      if (!account) throw notFound("signed-in account");
      browser.activeUserId = userId;
      const accessToken = await this.accessToken(browser, tenantId, client);
      return deps.identity.getMe({}, { accessToken });
    },

    listAccounts(browser: BrowserSession, tenantId: string) {
      return browser.accounts
        .filter((account) => account.tenantId === tenantId)
        .map((account) => ({
          userId: account.userId,
          email: account.email,
          username: account.username,
          displayName: account.displayName,
          avatarUrl: account.avatarUrl,
          active: account.userId === browser.activeUserId,
        }));
    },

    /** Keeps the stored profile of an account in step after it changed. */
    rememberProfile(browser: BrowserSession, user: User) {
      const account = browser.accounts.find((candidate) => candidate.userId === user.id);
      if (!account) return;
      account.email = user.email;
      account.username = user.username;
      account.displayName = user.fullName || user.username;
      account.avatarUrl = user.avatarUrl;
    },

    /**
     * The active account's access token, refreshed transparently when it is about to expire, or
     * when `outdated` says it no longer fits (the user's role changed) and no request of this
     * browser has already replaced it with one that does. An account whose session ended elsewhere
     * is dropped from the browser.
     */
    async accessToken(browser: BrowserSession, tenantId: string, client: ClientInfo, outdated?: (accessToken: string) => boolean): Promise<string> {
      const account = activeAccount(browser, tenantId);
      if (!account) throw unauthenticated();
      const usable = (candidate: SignedInAccount) => candidate.accessExpiresAt - REFRESH_MARGIN_MS > now() && !outdated?.(candidate.accessToken);
      if (usable(account)) return account.accessToken;
      // One refresh at a time per account of this browser, always with the newest refresh token:
      // a request that waited finds the tokens another one just stored (presenting the old refresh
      // token again would look like reuse once the session's grace window is over).
      const newest = await withNewest(browser, account, async (stored) => {
        if (!stored) return null;
        if (usable(stored)) return stored;
        let tokens: AccountTokens;
        try {
          tokens = tokensOf(await deps.session.refresh({ refreshToken: stored.refreshToken, ip: client.ip }));
        } catch (error) {
          if (error instanceof AppError && error.status === 401) return null;
          throw error;
        }
        if (!browser.storeKey) return { ...stored, ...tokens };
        return deps.store.saveTokens(browser.storeKey, stored.userId, stored.refreshToken, tokens);
      });
      // Ended elsewhere, or signed out of this browser meanwhile: never brought back.
      if (!newest) {
        this.dropAccount(browser, account.userId, tenantId);
        throw unauthenticated("Your session has ended; sign in again.", "session_ended");
      }
      Object.assign(account, { accessToken: newest.accessToken, accessExpiresAt: newest.accessExpiresAt, refreshToken: newest.refreshToken, refreshExpiresAt: newest.refreshExpiresAt });
      return account.accessToken;
    },

    /** Ends the sessions of accounts signed in that the browser could not keep (its state refused them). */
    async abandon(accounts: SignedInAccount[], client: ClientInfo): Promise<void> {
      await Promise.all(accounts.map((account) => deps.session.revokeByRefreshToken({ refreshToken: account.refreshToken, ip: client.ip }).catch(() => undefined)));
    },

    dropAccount(browser: BrowserSession, userId: string, tenantId: string) {
      browser.accounts = browser.accounts.filter((other) => other.userId !== userId);
      if (browser.activeUserId === userId) browser.activeUserId = browser.accounts.find((other) => other.tenantId === tenantId)?.userId ?? null;
    },
  };
}

export type BrowserAuth = ReturnType<typeof createBrowserAuth>;
