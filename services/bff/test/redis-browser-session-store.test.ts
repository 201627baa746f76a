import { createHash } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { connectRedis, createLogger } from "@tessera/platform";
import { testInfrastructure } from "@tessera/platform/testing";
import { createRedisBrowserSessionStore } from "../src/adapters/redis-browser-session-store.ts";
import type { SignedInAccount } from "../src/application/browser-session.ts";

const infrastructure = testInfrastructure("bff");
const { redis, close } = connectRedis(infrastructure.redisUrl, createLogger("test", "silent"));
const store = createRedisBrowserSessionStore(redis, infrastructure.redisKeyPrefix, { maxAccounts: 5 });
afterAll(close);

const day = 24 * 3600 * 1000;
let cookies = 0;
const newCookie = () => `cookie-${Date.now()}-${(cookies += 1)}`;
const keyOf = (cookie: string) => `${infrastructure.redisKeyPrefix}bff:browser:${createHash("sha256").update(cookie).digest("base64url")}`;
const account = (userId: string, overrides: Partial<SignedInAccount> = {}): SignedInAccount => ({
  userId,
  tenantId: "default",
  sessionId: `${userId}-session`,
  accessToken: `${userId}-access`,
  accessExpiresAt: Date.now() + 60_000,
  refreshToken: `${userId}-refresh-1`,
  refreshExpiresAt: Date.now() + 7 * day,
  rememberMe: false,
  email: `${userId}@example.com`,
  username: userId,
  displayName: userId,
  avatarUrl: "",
  signedInAt: Date.now(),
  ...overrides,
});
const nothing = { put: [], remove: [], profiles: [] };
const signedIn = async (...accounts: SignedInAccount[]) => {
  const cookie = newCookie();
  await store.apply(cookie, { ...nothing, put: accounts, activeUserId: accounts.at(-1)!.userId }, { tenantId: "default", create: true });
  return cookie;
};

describe("browser sessions in Redis", () => {
  it("applies each request's change to the state of the moment, not its stale copy", async () => {
    const cookie = await signedIn(account("a", { signedInAt: 1 }), account("b", { signedInAt: 2 }));
    // A refresh of a, then a switch to a by a request that loaded the state before the refresh.
    const refreshed = await store.saveTokens(cookie, "a", "a-refresh-1", { accessToken: "a-access-2", accessExpiresAt: Date.now() + 60_000, refreshToken: "a-refresh-2", refreshExpiresAt: Date.now() + 7 * day });
    expect(refreshed?.refreshToken).toBe("a-refresh-2");
    const after = await store.apply(cookie, { ...nothing, activeUserId: "a" }, { tenantId: "default", create: false });
    expect(after?.activeUserId).toBe("a");
    expect(after?.accounts.map((stored) => [stored.userId, stored.refreshToken])).toEqual([
      ["a", "a-refresh-2"],
      ["b", "b-refresh-1"],
    ]);
  });

  it("stores refreshed tokens only over the token they replace, and never into an account signed out meanwhile", async () => {
    const cookie = await signedIn(account("a"));
    const tokens = (n: number) => ({ accessToken: `a-access-${n}`, accessExpiresAt: Date.now() + 60_000, refreshToken: `a-refresh-${n}`, refreshExpiresAt: Date.now() + 7 * day });
    expect((await store.saveTokens(cookie, "a", "a-refresh-1", tokens(2)))?.refreshToken).toBe("a-refresh-2");
    // A late refresh from the older token loses: the newer one stays.
    expect((await store.saveTokens(cookie, "a", "a-refresh-1", tokens(3)))?.refreshToken).toBe("a-refresh-2");
    const other = await signedIn(account("a"), account("b"));
    await store.apply(other, { ...nothing, remove: [{ userId: "a", sessionId: "a-session" }] }, { tenantId: "default", create: false });
    expect(await store.saveTokens(other, "a", "a-refresh-1", tokens(2))).toBeNull();
    expect((await store.load(other))?.accounts.map((stored) => stored.userId)).toEqual(["b"]);
  });

  it("removes an account only while it is still the same session, and picks the earliest remaining as active", async () => {
    const cookie = await signedIn(account("a", { signedInAt: 1 }), account("b", { signedInAt: 2 }), account("c", { signedInAt: 3 }));
    // c signed in again (a new session) while a late request drops c's old one: the new one stays.
    await store.apply(cookie, { ...nothing, put: [account("c", { sessionId: "c-second", signedInAt: 4 })], remove: [{ userId: "c", sessionId: "c-session" }] }, { tenantId: "default", create: false });
    const kept = await store.apply(cookie, { ...nothing, remove: [{ userId: "c", sessionId: "c-session" }] }, { tenantId: "default", create: false });
    expect(kept?.accounts.map((stored) => [stored.userId, stored.sessionId])).toEqual([
      ["a", "a-session"],
      ["b", "b-session"],
      ["c", "c-second"],
    ]);
    const signedOut = await store.apply(cookie, { ...nothing, remove: [{ userId: "c", sessionId: "c-second" }] }, { tenantId: "default", create: false });
    expect(signedOut?.activeUserId).toBe("a");
  });

  it("deletes the state with its last account and never revives it, and moves it to a new cookie value", async () => {
    const cookie = await signedIn(account("a"));
    expect((await store.apply(cookie, { ...nothing, remove: [{ userId: "a", sessionId: "a-session" }] }, { tenantId: "default", create: false }))?.accounts).toEqual([]);
    expect(await redis.exists(keyOf(cookie))).toBe(0);
    expect(await store.apply(cookie, { ...nothing, profiles: [{ userId: "a", sessionId: "a-session", email: "", username: "", displayName: "x", avatarUrl: "" }] }, { tenantId: "default", create: false })).toBeNull();
    expect(await redis.exists(keyOf(cookie))).toBe(0);

    const before = await signedIn(account("a"));
    const after = newCookie();
    const moved = await store.apply(after, { ...nothing, put: [account("b")], activeUserId: "b" }, { tenantId: "default", create: true, from: before });
    expect(moved?.accounts.map((stored) => stored.userId).sort()).toEqual(["a", "b"]);
    expect(await redis.exists(keyOf(before))).toBe(0);
    expect(await redis.pttl(keyOf(after))).toBeGreaterThan(6 * day);
    expect(moved?.moved).toBe(false);

    // The old cookie value opens nothing any more (session fixation) ...
    expect(await store.load(before)).toBeNull();
    // ... but a request that loaded the state with it before (a refresh on its way) stores its writes on the moved state.
    const tokens = { accessToken: "a-access-2", accessExpiresAt: Date.now() + 60_000, refreshToken: "a-refresh-2", refreshExpiresAt: Date.now() + 7 * day };
    expect((await store.exclusive(before, "a", async (stored) => store.saveTokens(before, "a", stored!.refreshToken, tokens)))?.refreshToken).toBe("a-refresh-2");
    expect(await store.apply(before, { ...nothing, activeUserId: "a" }, { tenantId: "default", create: false })).toMatchObject({ moved: true, activeUserId: "a" });
    expect((await store.load(after))?.accounts.find((stored) => stored.userId === "a")?.refreshToken).toBe("a-refresh-2");
    expect(await redis.exists(keyOf(before))).toBe(0);
    // A second sign-in sent with the old cookie value joins the moved state instead of moving it again.
    const third = newCookie();
    expect(await store.apply(third, { ...nothing, put: [account("c")], activeUserId: "c" }, { tenantId: "default", create: true, from: before })).toMatchObject({ moved: true, activeUserId: "c" });
    expect(await redis.exists(keyOf(third))).toBe(0);
    expect((await store.load(after))?.accounts.map((stored) => stored.userId).sort()).toEqual(["a", "b", "c"]);
  });

  it("reads the single JSON value earlier versions stored, keeping its order, active account and lifetime", async () => {
    const cookie = newCookie();
    const { signedInAt: _a, ...first } = account("a");
    const { signedInAt: _b, ...second } = account("b");
    await redis.set(keyOf(cookie), JSON.stringify({ activeUserId: "a", accounts: [first, second] }), "EX", 3600);
    const loaded = await store.load(cookie);
    expect(loaded?.activeUserId).toBe("a");
    expect(loaded?.accounts.map(({ signedInAt: _, ...rest }) => rest)).toEqual([first, second]);
    expect(loaded?.storeKey).toBe(cookie);
    expect(await redis.type(keyOf(cookie))).toBe("hash");
    expect(await redis.ttl(keyOf(cookie))).toBeGreaterThan(3500);
  });

  it("refuses accounts signed in at once beyond the limit as a whole, changing nothing", async () => {
    const cookie = await signedIn(account("a", { signedInAt: 1 }), account("b", { signedInAt: 2 }), account("c", { signedInAt: 3 }), account("d", { signedInAt: 4 }));
    // Two sign-ins of one browser, each from a copy with four accounts: the second one is refused.
    const after = newCookie();
    await store.apply(after, { ...nothing, put: [account("e")], activeUserId: "e" }, { tenantId: "default", create: true, from: cookie });
    const refused = newCookie();
    await expect(store.apply(refused, { ...nothing, put: [account("f")], activeUserId: "f" }, { tenantId: "default", create: true, from: cookie })).rejects.toMatchObject({ code: "too_many_accounts", status: 409 });
    expect(await redis.exists(keyOf(refused))).toBe(0);
    expect((await store.load(after))?.accounts.map((stored) => stored.userId)).toEqual(["a", "b", "c", "d", "e"]);
    // Signing in again as one of them replaces it, and signing one out makes room.
    expect((await store.apply(after, { ...nothing, put: [account("a", { sessionId: "a-again", signedInAt: 9 })], remove: [{ userId: "a", sessionId: "a-session" }] }, { tenantId: "default", create: false }))?.accounts).toHaveLength(5);
    expect((await store.apply(after, { ...nothing, put: [account("f")], remove: [{ userId: "b", sessionId: "b-session" }] }, { tenantId: "default", create: false }))?.accounts).toHaveLength(5);
  });

  it("runs one refresh of an account at a time across requests", async () => {
    const cookie = await signedIn(account("a"));
    let running = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 5 }, () =>
        store.exclusive(cookie, "a", async () => {
          running += 1;
          most = Math.max(most, running);
          await new Promise((resolve) => setTimeout(resolve, 20));
          running -= 1;
        }),
      ),
    );
    expect(most).toBe(1);
  });
});
