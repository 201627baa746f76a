import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient, startTestSystem, type TestSystem } from "@tessera/platform/testing";

let system: TestSystem;
const admin = { email: "root@example.com", username: "root", password: "root of all accounts" };
const operator = { email: "ops@example.com", password: "operating the platform" };

beforeAll(async () => {
  system = await startTestSystem({
    FIRST_ADMIN_EMAIL: admin.email,
    FIRST_ADMIN_USERNAME: admin.username,
    FIRST_ADMIN_PASSWORD: admin.password,
    OPERATOR_EMAIL: operator.email,
    OPERATOR_PASSWORD: operator.password,
    LOGIN_MAX_FAILURES_PER_ACCOUNT: "3",
    LOGIN_THROTTLE_WINDOW_SECONDS: "3",
    LOGIN_LOCKOUT_BASE_SECONDS: "3",
  });
});
afterAll(async () => system?.stopAll());

let counter = 0;
const newUser = () => {
  counter += 1;
  const suffix = `${Date.now().toString(36)}${counter}`;
  return { email: `person${suffix}@example.com`, username: `person${suffix}`, password: "a perfectly fine passphrase" };
};
const json = async <T = any>(response: Response): Promise<T> => (await response.json()) as T;
const signedIn = async () => {
  const browser = new HttpClient(system.baseUrl);
  const user = newUser();
  const response = await browser.post("/api/v1/auth/register", user);
  expect(response.status).toBe(201);
  return { browser, user, id: (await json(response)).user.id as string };
};
const eventually = async (check: () => Promise<boolean>, timeoutMs = 1_500) => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return check();
};

describe("several accounts in one browser", () => {
  it("adds accounts, switches instantly, and signs out of one leaving the others", async () => {
    const { browser, user: first, id: firstId } = await signedIn();
    const second = newUser();
    const added = await browser.post("/api/v1/auth/register", second);
    expect(added.status).toBe(201);
    const secondId = (await json(added)).user.id;
    const accounts = await json<Array<{ userId: string; active: boolean; username: string }>>(await browser.get("/api/v1/accounts"));
    expect(accounts.map((account) => [account.username, account.active])).toEqual([
      [first.username, false],
      [second.username, true],
    ]);
    expect((await json(await browser.get("/api/v1/me"))).id).toBe(secondId);

    const switched = await browser.post("/api/v1/accounts/switch", { userId: firstId });
    expect(switched.status).toBe(200);
    expect((await json(switched)).user.id).toBe(firstId);
    expect((await json(await browser.get("/api/v1/me"))).id).toBe(firstId);

    expect((await browser.post("/api/v1/accounts/switch", { userId: "000000000000000000000000" })).status).toBe(404);

    expect((await browser.post("/api/v1/auth/logout")).status).toBe(204);
    const remaining = await json<Array<{ userId: string; active: boolean }>>(await browser.get("/api/v1/accounts"));
    expect(remaining).toEqual([expect.objectContaining({ userId: secondId, active: true })]);
    expect((await json(await browser.get("/api/v1/me"))).id).toBe(secondId);
  });

  it("keeps at most five accounts", async () => {
    const browser = new HttpClient(system.baseUrl);
    for (let index = 0; index < 5; index += 1) expect((await browser.post("/api/v1/auth/register", newUser())).status).toBe(201);
    const sixth = await browser.post("/api/v1/auth/register", newUser());
    expect(sixth.status).toBe(409);
    expect((await json(await browser.get("/api/v1/accounts"))).length).toBe(5);
  });
});

describe("sessions and devices", () => {
  it("lists devices and signs one out everywhere within a second", async () => {
    const { browser: phone, user } = await signedIn();
    const laptop = new HttpClient(system.baseUrl);
    expect((await laptop.post("/api/v1/auth/login", { login: user.username, password: user.password }, { "user-agent": "Laptop browser" })).status).toBe(200);
    const sessions = await json<Array<{ id: string; current: boolean; deviceInfo: string; ip: string; createdAt: string; lastUsedAt: string }>>(await phone.get("/api/v1/me/sessions"));
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((session) => session.current)).toHaveLength(1);
    const laptopSession = sessions.find((session) => session.deviceInfo === "Laptop browser")!;
    expect(laptopSession.current).toBe(false);
    expect((await phone.delete(`/api/v1/me/sessions/${laptopSession.id}`)).status).toBe(204);
    expect(await eventually(async () => (await laptop.get("/api/v1/me")).status === 401)).toBe(true);
    expect((await phone.get("/api/v1/me")).status).toBe(200);
    // Someone else's session id looks like a missing one.
    const { browser: stranger } = await signedIn();
    const own = (await json<Array<{ id: string }>>(await phone.get("/api/v1/me/sessions")))[0]!;
    expect((await stranger.delete(`/api/v1/me/sessions/${own.id}`)).status).toBe(404);
  });

  it("signs out every device with logout-all", async () => {
    const { browser: one, user } = await signedIn();
    const two = new HttpClient(system.baseUrl);
    await two.post("/api/v1/auth/login", { login: user.email, password: user.password });
    expect((await one.post("/api/v1/auth/logout-all")).status).toBe(204);
    expect((await one.get("/api/v1/me")).status).toBe(401);
    expect(await eventually(async () => (await two.get("/api/v1/me")).status === 401)).toBe(true);
  });

  it("throttles repeated failures with 429 and Retry-After, then lets the owner in", async () => {
    const { user } = await signedIn();
    const attacker = new HttpClient(system.baseUrl);
    for (let index = 0; index < 3; index += 1) expect((await attacker.post("/api/v1/auth/login", { login: user.username, password: "guess number one" })).status).toBe(401);
    const throttled = await attacker.post("/api/v1/auth/login", { login: user.username, password: user.password });
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get("retry-after"))).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 3_200));
    expect((await attacker.post("/api/v1/auth/login", { login: user.username, password: user.password })).status).toBe(200);
  });
});

describe("my account", () => {
  it("changes only allowed profile fields", async () => {
    const { browser, id } = await signedIn();
    const patched = await browser.patch("/api/v1/me", { fullName: "New Name", avatarUrl: "https://example.com/a.png" });
    expect(patched.status).toBe(200);
    expect((await json(patched)).user).toMatchObject({ id, fullName: "New Name", avatarUrl: "https://example.com/a.png" });
    for (const body of [{ role: "admin" }, { tenantId: "other" }, { maxMessagesPerDay: 1_000_000 }, { email: "x@example.com" }]) {
      expect((await browser.patch("/api/v1/me", body)).status).toBe(400);
    }
    expect((await json(await browser.get("/api/v1/me"))).role).toBe("user");
    expect((await browser.patch("/api/v1/me", { avatarUrl: "javascript:alert(1)" })).status).toBe(400);
  });

  it("changes the password only with the current one", async () => {
    const { browser, user } = await signedIn();
    const otherDevice = new HttpClient(system.baseUrl);
    expect((await otherDevice.post("/api/v1/auth/login", { login: user.username, password: user.password })).status).toBe(200);
    expect((await browser.put("/api/v1/me/password", { newPassword: "another fine passphrase" })).status).toBe(400);
    expect((await browser.put("/api/v1/me/password", { currentPassword: "wrong one entirely", newPassword: "another fine passphrase" })).status).toBe(400);
    expect((await browser.put("/api/v1/me/password", { currentPassword: user.password, newPassword: "another fine passphrase" })).status).toBe(204);
    // The device that changed it stays signed in; every other one is signed out.
    expect((await browser.get("/api/v1/me")).status).toBe(200);
    expect(await eventually(async () => (await otherDevice.get("/api/v1/me")).status === 401)).toBe(true);
    const other = new HttpClient(system.baseUrl);
    expect((await other.post("/api/v1/auth/login", { login: user.username, password: user.password })).status).toBe(401);
    expect((await other.post("/api/v1/auth/login", { login: user.username, password: "another fine passphrase" })).status).toBe(200);
  });

  it("creates API keys whose secret is shown once, lists and revokes them", async () => {
    const { browser } = await signedIn();
    const created = await browser.post("/api/v1/me/api-keys", { name: "CLI", scopes: ["inference", "usage:read"] });
    expect(created.status).toBe(201);
    const key = await json(created);
    expect(key).toMatchObject({ id: expect.any(String), name: "CLI", prefix: expect.stringMatching(/^tsk_/), key: expect.stringMatching(/^tsk_/) });
    const listed = await json<Array<Record<string, unknown>>>(await browser.get("/api/v1/me/api-keys"));
    expect(listed).toEqual([expect.objectContaining({ id: key.id, name: "CLI", prefix: key.prefix, scopes: ["inference", "usage:read"], lastUsedAt: null })]);
    expect(JSON.stringify(listed)).not.toContain(key.key);
    // API clients use the key as a bearer credential on /api/v1, with no cookie and no CSRF token.
    const asKey = (path: string, secret = key.key) => fetch(`${system.baseUrl}${path}`, { headers: { authorization: `Bearer ${secret}` } });
    const meByKey = await asKey("/api/v1/me");
    expect(meByKey.status).toBe(200);
    expect((await json(meByKey)).id).toBe((await json(await browser.get("/api/v1/me"))).id);
    expect((await asKey("/api/v1/quota")).status).toBe(200);
    expect((await asKey("/api/v1/me", `${key.key}x`)).status).toBe(401);
    // Sessions, like key management, admin and operator routes, are never for a key.
    expect((await asKey("/api/v1/me/sessions")).status).toBe(403);
    const { browser: stranger } = await signedIn();
    expect((await stranger.delete(`/api/v1/me/api-keys/${key.id}`)).status).toBe(404);
    expect((await browser.delete(`/api/v1/me/api-keys/${key.id}`)).status).toBe(204);
    expect(await json(await browser.get("/api/v1/me/api-keys"))).toEqual([]);
    expect(await eventually(async () => (await asKey("/api/v1/me")).status === 401)).toBe(true);
    expect(system.logs.join("\n")).not.toContain(key.key);
  });
});

describe("admins and operators", () => {
  it("lets the seeded admin manage users of the tenant, and nobody else", async () => {
    const { browser: user, id } = await signedIn();
    expect((await user.get("/api/v1/admin/users")).status).toBe(403);
    expect((await user.patch(`/api/v1/admin/users/${id}`, { role: "admin" })).status).toBe(403);

    const root = new HttpClient(system.baseUrl);
    expect((await root.post("/api/v1/auth/login", { login: admin.username, password: admin.password })).status).toBe(200);
    const page = await json(await root.get(`/api/v1/admin/users?q=person&limit=2`));
    expect(page.items.length).toBeLessThanOrEqual(2);
    expect(page.items[0]).toHaveProperty("maxMessagesPerDay");
    expect((await root.get("/api/v1/admin/users?limit=1000")).status).toBe(400);

    const patched = await root.patch(`/api/v1/admin/users/${id}`, { maxMessagesPerDay: 7, maxChats: 3, premiumUntil: "2099-01-01T00:00:00Z" });
    expect(patched.status).toBe(200);
    expect(await json(patched)).toMatchObject({ maxMessagesPerDay: 7, maxChats: 3, isPremium: true });
    const cleared = await json(await root.patch(`/api/v1/admin/users/${id}`, { maxMessagesPerDay: null }));
    expect(cleared.maxMessagesPerDay).toBeNull();
    expect((await root.patch(`/api/v1/admin/users/${id}`, { tenantId: "x" })).status).toBe(400);

    expect((await root.patch(`/api/v1/admin/users/${id}`, { status: "disabled" })).status).toBe(200);
    expect(await eventually(async () => (await user.get("/api/v1/me")).status === 401)).toBe(true);
  });

  it("lets the operator create tenants at run time, resolved by host, with isolated users", async () => {
    const ops = new HttpClient(system.baseUrl);
    expect((await ops.post("/api/v1/auth/login", { login: operator.email, password: operator.password })).status).toBe(200);
    const slug = `t${Date.now().toString(36)}`;
    const created = await ops.post("/api/v1/operator/tenants", { slug, name: "Tenant B", domains: [`${slug}.localhost`] });
    expect(created.status).toBe(201);
    const tenant = await json(created);
    expect(tenant).toMatchObject({ id: slug, slug, domains: [`${slug}.localhost`], timeZone: "UTC" });
    expect((await ops.get(`/api/v1/operator/tenants/${slug}`)).status).toBe(200);
    expect((await json(await ops.get("/api/v1/operator/tenants"))).items.map((item: { id: string }) => item.id)).toContain(slug);
    expect((await json(await ops.patch(`/api/v1/operator/tenants/${slug}`, { timeZone: "Asia/Tokyo" }))).timeZone).toBe("Asia/Tokyo");
    expect((await ops.post("/api/v1/operator/tenants", { slug, name: "Again", domains: [] })).status).toBe(409);

    const { browser: plain } = await signedIn();
    expect((await plain.get("/api/v1/operator/tenants")).status).toBe(403);

    // A browser on tenant B's host registers the same email as in the default tenant.
    const port = new URL(system.baseUrl).port;
    const tenantBrowser = new HttpClient(system.baseUrl, { host: `${slug}.localhost:${port}` });
    const shared = newUser();
    expect((await new HttpClient(system.baseUrl).post("/api/v1/auth/register", shared)).status).toBe(201);
    const inB = await tenantBrowser.post("/api/v1/auth/register", shared);
    expect(inB.status).toBe(201);
    const userB = (await json(inB)).user;
    expect(userB.tenantId).toBe(slug);
    // Tenant A's admin cannot see tenant B's user.
    const root = new HttpClient(system.baseUrl);
    await root.post("/api/v1/auth/login", { login: admin.username, password: admin.password });
    expect((await root.get(`/api/v1/admin/users/${userB.id}`)).status).toBe(404);
    expect((await root.patch(`/api/v1/admin/users/${userB.id}`, { status: "disabled" })).status).toBe(404);
  });

  it("writes no password, token, key or cookie to any log", () => {
    const text = system.logs.join("\n");
    for (const secret of [admin.password, operator.password, "a perfectly fine passphrase", "another fine passphrase"]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/tessera_session=/);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}/);
    expect(text).not.toMatch(/tsk_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{20,}/);
  });

  it("publishes the JWKS", async () => {
    const response = await fetch(`${system.baseUrl}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    const jwks = (await response.json()) as { keys: Array<{ kty: string; alg: string; kid: string; d?: string }> };
    expect(jwks.keys[0]).toMatchObject({ kty: "EC", alg: "ES256", kid: expect.any(String) });
    expect(jwks.keys.every((key) => key.d === undefined)).toBe(true);
  });
});
