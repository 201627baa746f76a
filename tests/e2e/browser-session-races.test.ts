import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRedis, createLogger, type Redis } from "@tessera/platform";
import { HttpClient, startTestSystem, type TestSystem } from "@tessera/platform/testing";

// Two requests of one browser that both change its session state (a refresh, a switch, a
// sign-out) must never bring back an old refresh token: once the session service's grace window
// is over, that token counts as reused and ends the session.

let system: TestSystem;
let redis: Redis;
let closeRedis: () => Promise<void>;

const root = { email: "root@example.com", username: "root", password: "root of all accounts" };

beforeAll(async () => {
  system = await startTestSystem({ FIRST_ADMIN_EMAIL: root.email, FIRST_ADMIN_USERNAME: root.username, FIRST_ADMIN_PASSWORD: root.password });
  ({ redis, close: closeRedis } = connectRedis(system.infrastructure.redisUrl, createLogger("test", "silent")));
});
afterAll(async () => {
  await closeRedis?.();
  await system?.stopAll();
});

let counter = 0;
const newUser = () => {
  counter += 1;
  const suffix = `${Date.now().toString(36)}${counter}`;
  return { email: `racer${suffix}@example.com`, username: `racer${suffix}`, password: "a perfectly fine passphrase" };
};
const json = async <T = any>(response: Response): Promise<T> => (await response.json()) as T;
const register = async (browser: HttpClient): Promise<string> => {
  const response = await browser.post("/api/v1/auth/register", newUser());
  expect(response.status).toBe(201);
  return (await json(response)).user.id as string;
};

interface StoredAccount {
  userId: string;
  sessionId: string;
  refreshToken: string;
  accessExpiresAt: number;
}

const prefix = () => system.infrastructure.redisKeyPrefix;
const browserKey = (browser: HttpClient) => {
  const cookie = /(?:^|; )tessera_session=([^;]+)/.exec(browser.cookieHeader())?.[1];
  expect(cookie).toBeTruthy();
  return `${prefix()}bff:browser:${createHash("sha256").update(cookie!).digest("base64url")}`;
};

/** The browser's accounts as the BFF stores them (whatever the layout: one JSON value, or a hash of fields). */
async function storedAccounts(browser: HttpClient): Promise<Map<string, StoredAccount>> {
  const key = browserKey(browser);
  const accounts: StoredAccount[] =
    (await redis.type(key)) === "string"
      ? (JSON.parse((await redis.get(key))!) as { accounts: StoredAccount[] }).accounts
      : Object.entries(await redis.hgetall(key))
          .filter(([field]) => field.startsWith("account:"))
          .map(([, value]) => JSON.parse(value) as StoredAccount);
  return new Map(accounts.map((account) => [account.userId, account]));
}

/** Makes the stored access tokens of these accounts look expired, so the next request refreshes them. */
async function expireAccessTokens(browser: HttpClient, userIds: string[]): Promise<void> {
  const key = browserKey(browser);
  if ((await redis.type(key)) === "string") {
    const state = JSON.parse((await redis.get(key))!) as { accounts: StoredAccount[] };
    for (const account of state.accounts) if (userIds.includes(account.userId)) account.accessExpiresAt = 0;
    await redis.set(key, JSON.stringify(state), "KEEPTTL");
    return;
  }
  for (const userId of userIds) {
    const account = JSON.parse((await redis.hget(key, `account:${userId}`))!) as StoredAccount;
    await redis.hset(key, `account:${userId}`, JSON.stringify({ ...account, accessExpiresAt: 0 }));
  }
}

/** The hash the session service keeps of a refresh token. */
const hashOf = (refreshToken: string) => createHash("sha256").update(refreshToken.slice(refreshToken.indexOf(".") + 1)).digest("base64url");

/** The session service's state of a session: alive, and whether this refresh token is its newest. */
async function sessionState(account: StoredAccount): Promise<{ alive: boolean; newest: boolean }> {
  const refreshHash = await redis.hget(`${prefix()}session:refresh:${account.sessionId}`, "refreshHash");
  return { alive: refreshHash !== null, newest: refreshHash === hashOf(account.refreshToken) };
}

/** Whether the session was rotated exactly once since this refresh token: it is the one the newest replaced. */
async function rotatedOnceSince(sessionId: string, refreshToken: string): Promise<boolean> {
  return (await redis.hget(`${prefix()}session:refresh:${sessionId}`, "previousRefreshHash")) === hashOf(refreshToken);
}

describe("one browser, requests at once", () => {
  it("refreshes an expired access token once for many parallel requests: none is signed out, the newest refresh token is kept", async () => {
    const browser = new HttpClient(system.baseUrl);
    const userId = await register(browser);
    for (let round = 0; round < 3; round += 1) {
      const before = (await storedAccounts(browser)).get(userId)!;
      await expireAccessTokens(browser, [userId]);
      const paths = ["/api/v1/me", "/api/v1/quota", "/api/v1/chats", "/api/v1/me/sessions"];
      const responses = await Promise.all(Array.from({ length: 12 }, (_, index) => browser.get(paths[index % paths.length]!)));
      expect(responses.map((response) => response.status)).toEqual(responses.map(() => 200));
      const account = (await storedAccounts(browser)).get(userId)!;
      expect(account.accessExpiresAt).toBeGreaterThan(Date.now());
      expect(await sessionState(account)).toEqual({ alive: true, newest: true });
      expect(await rotatedOnceSince(account.sessionId, before.refreshToken)).toBe(true);
    }
  });

  it("keeps both accounts' newest tokens and the switch when a refresh races an account switch", async () => {
    const browser = new HttpClient(system.baseUrl);
    const first = await register(browser);
    const second = await register(browser);
    for (let round = 0; round < 5; round += 1) {
      expect((await browser.post("/api/v1/accounts/switch", { userId: first })).status).toBe(200);
      await expireAccessTokens(browser, [first, second]);
      // One request refreshes the active account while the switch refreshes the other one.
      const [me, switched] = await Promise.all([browser.get("/api/v1/me"), browser.post("/api/v1/accounts/switch", { userId: second })]);
      expect(me.status).toBe(200);
      expect((await json(me)).id).toBe(first);
      expect(switched.status).toBe(200);
      expect((await json(switched)).user.id).toBe(second);

      const accounts = await json<Array<{ userId: string; active: boolean }>>(await browser.get("/api/v1/accounts"));
      expect(accounts.map((account) => [account.userId, account.active])).toEqual([
        [first, false],
        [second, true],
      ]);
      const stored = await storedAccounts(browser);
      expect(await sessionState(stored.get(first)!)).toEqual({ alive: true, newest: true });
      expect(await sessionState(stored.get(second)!)).toEqual({ alive: true, newest: true });
    }
  });

  it("never brings back an account signed out while a refresh of it and a switch were on their way", async () => {
    const browser = new HttpClient(system.baseUrl);
    const oldest = await register(browser);
    const chosen = await register(browser);
    for (let round = 0; round < 5; round += 1) {
      const leaves = await register(browser);
      const leaving = (await storedAccounts(browser)).get(leaves)!;
      await expireAccessTokens(browser, [leaves]);
      // Signing out the active account, reading as it (a refresh), and switching to another one, at once.
      const [loggedOut, switched, ...reads] = await Promise.all([
        browser.post("/api/v1/auth/logout"),
        browser.post("/api/v1/accounts/switch", { userId: chosen }),
        browser.get("/api/v1/me"),
        browser.get("/api/v1/quota"),
      ]);
      expect(loggedOut.status).toBe(204);
      expect(switched.status).toBe(200);
      // A read answered for the account active when it ran, or found it signed out.
      for (const read of reads) expect([200, 401]).toContain(read.status);

      const accounts = await json<Array<{ userId: string; active: boolean }>>(await browser.get("/api/v1/accounts"));
      expect(accounts.map((account) => [account.userId, account.active])).toEqual([
        [oldest, false],
        [chosen, true],
      ]);
      expect((await storedAccounts(browser)).has(leaves)).toBe(false);
      expect((await sessionState(leaving)).alive).toBe(false);
    }
  });

  it("refreshes once for many parallel requests after a role change: every one acts with the new role, the session lives on", async () => {
    const admin = new HttpClient(system.baseUrl);
    expect((await admin.post("/api/v1/auth/login", { login: root.username, password: root.password })).status).toBe(200);
    const browser = new HttpClient(system.baseUrl);
    const userId = await register(browser);
    for (const [role, status] of [
      ["admin", 200],
      ["user", 403],
    ] as const) {
      const before = (await storedAccounts(browser)).get(userId)!;
      expect((await admin.patch(`/api/v1/admin/users/${userId}`, { role })).status).toBe(200);
      const responses = await Promise.all(Array.from({ length: 10 }, () => browser.get("/api/v1/admin/users")));
      expect(responses.map((response) => response.status)).toEqual(responses.map(() => status));
      expect(await sessionState((await storedAccounts(browser)).get(userId)!)).toEqual({ alive: true, newest: true });
      expect(await rotatedOnceSince(before.sessionId, before.refreshToken)).toBe(true);
    }
  });

  it("lets two sign-ins at once take only the last place left: one is refused, its session ended, none is lost", async () => {
    const browser = new HttpClient(system.baseUrl);
    for (let index = 0; index < 4; index += 1) await register(browser);
    const others = [newUser(), newUser()];
    const theirBrowsers = others.map(() => new HttpClient(system.baseUrl));
    for (const [index, other] of others.entries()) expect((await theirBrowsers[index]!.post("/api/v1/auth/register", other)).status).toBe(201);

    const signIns = await Promise.all(others.map((other) => browser.post("/api/v1/auth/login", { login: other.username, password: other.password })));
    expect(signIns.map((response) => response.status).sort()).toEqual([200, 409]);
    const accounts = await json<Array<{ username: string; active: boolean }>>(await browser.get("/api/v1/accounts"));
    expect(accounts).toHaveLength(5);
    const admitted = others[signIns.findIndex((response) => response.status === 200)]!;
    const refused = signIns.findIndex((response) => response.status === 409);
    expect(accounts.find((account) => account.active)?.username).toBe(admitted.username);
    // The refused sign-in left no session behind: its user has only the one of their own browser.
    const sessions = await json<unknown[]>(await theirBrowsers[refused]!.get("/api/v1/me/sessions"));
    expect(sessions).toHaveLength(1);
  });

  it("keeps both of two sign-ins at once when there is room, whichever response the browser takes its cookie from", async () => {
    const browser = new HttpClient(system.baseUrl);
    await register(browser);
    const others = [newUser(), newUser()];
    for (const other of others) expect((await new HttpClient(system.baseUrl).post("/api/v1/auth/register", other)).status).toBe(201);
    const signIns = await Promise.all(others.map((other) => browser.post("/api/v1/auth/login", { login: other.username, password: other.password })));
    expect(signIns.map((response) => response.status)).toEqual([200, 200]);
    const accounts = await json<Array<{ username: string }>>(await browser.get("/api/v1/accounts"));
    expect(accounts.map((account) => account.username)).toEqual(expect.arrayContaining(others.map((other) => other.username)));
    expect(accounts).toHaveLength(3);
  });

  it("sends the session cookie again after a refresh only when it is a remembered one (its lifetime slides), so no late response puts a replaced value back", async () => {
    const sessionCookieOf = (response: Response) => response.headers.getSetCookie().find((cookie) => cookie.startsWith("tessera_session="));
    const browser = new HttpClient(system.baseUrl);
    const user = newUser();
    const userId = await (async () => {
      const response = await browser.post("/api/v1/auth/register", user);
      expect(response.status).toBe(201);
      return (await json(response)).user.id as string;
    })();
    await expireAccessTokens(browser, [userId]);
    const refreshed = await browser.get("/api/v1/me");
    expect(refreshed.status).toBe(200);
    expect(sessionCookieOf(refreshed)).toBeUndefined();

    const remembered = new HttpClient(system.baseUrl);
    expect((await remembered.post("/api/v1/auth/login", { login: user.username, password: user.password, rememberMe: true })).status).toBe(200);
    await expireAccessTokens(remembered, [userId]);
    const slid = await remembered.get("/api/v1/me");
    expect(slid.status).toBe(200);
    expect(sessionCookieOf(slid)).toMatch(/Max-Age=\d+/i);
  });
});
