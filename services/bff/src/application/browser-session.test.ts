import { describe, expect, it } from "vitest";
import { changesBetween, hasChanges, type BrowserSession, type SignedInAccount } from "./browser-session.ts";

const account = (userId: string, sessionId = `${userId}-session`, overrides: Partial<SignedInAccount> = {}): SignedInAccount => ({
  userId,
  tenantId: "default",
  sessionId,
  accessToken: `${userId}-access`,
  accessExpiresAt: 1,
  refreshToken: `${userId}-refresh`,
  refreshExpiresAt: 2,
  rememberMe: false,
  email: `${userId}@example.com`,
  username: userId,
  displayName: userId,
  avatarUrl: "",
  signedInAt: 0,
  ...overrides,
});
const browser = (activeUserId: string | null, ...accounts: SignedInAccount[]): BrowserSession => ({ activeUserId, accounts, storeKey: "cookie" });

describe("what a request changed in a browser session", () => {
  it("never carries tokens of accounts it did not sign in: a refresh stores them itself", () => {
    const loaded = browser("a", account("a"), account("b"));
    const refreshed = browser("a", account("a", "a-session", { accessToken: "newer", refreshToken: "newer" }), account("b"));
    expect(hasChanges(changesBetween(loaded, refreshed))).toBe(false);
  });

  it("names a switch, a new sign-in (whole) and a sign-out (by session) separately", () => {
    const loaded = browser("a", account("a"), account("b"));
    expect(changesBetween(loaded, browser("b", account("a"), account("b")))).toEqual({ put: [], remove: [], profiles: [], activeUserId: "b" });
    const signedInAgain = account("a", "a-second-session");
    expect(changesBetween(loaded, browser("a", account("b"), signedInAgain))).toEqual({ put: [signedInAgain], remove: [{ userId: "a", sessionId: "a-session" }], profiles: [] });
    const newcomer = account("c");
    expect(changesBetween(loaded, browser("c", account("a"), account("b"), newcomer))).toEqual({ put: [newcomer], remove: [], profiles: [], activeUserId: "c" });
  });

  it("leaves choosing the next active account to the store when the active one was signed out", () => {
    const loaded = browser("a", account("a"), account("b"));
    expect(changesBetween(loaded, browser("b", account("b")))).toEqual({ put: [], remove: [{ userId: "a", sessionId: "a-session" }], profiles: [] });
  });

  it("carries a changed profile with the session it belongs to", () => {
    const loaded = browser("a", account("a"));
    const renamed = browser("a", account("a", "a-session", { displayName: "Alice" }));
    expect(changesBetween(loaded, renamed).profiles).toEqual([{ userId: "a", sessionId: "a-session", email: "a@example.com", username: "a", displayName: "Alice", avatarUrl: "" }]);
  });
});
