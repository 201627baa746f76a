import mongoose from "mongoose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient, startTestSystem, type TestSystem } from "@tessera/platform/testing";
import { startDemoUpstream, type DemoUpstream } from "../../services/chat/src/demo-upstream/demo-upstream.ts";

// The admin service behind /api/v1/admin and /api/v1/operator: who may do what, the audit log,
// tenant settings applied to the very next request, providers with write-only keys.
let system: TestSystem;
let upstream: DemoUpstream;
let database: mongoose.Connection;
const admin = { email: "settings-admin@example.com", username: "settingsadmin", password: "administering every setting" };
const operator = { email: "settings-ops@example.com", password: "operating all of the tenants" };
const PROVIDER_KEY = "sk-admin-secret-key-9f3e7d1c2b4a";

beforeAll(async () => {
  // The "slow" key holds an answer back long enough to look at its reservation (then it is cancelled).
  upstream = await startDemoUpstream({ tokenDelayMs: 1, slowDelayMs: 25_000, models: ["demo-echo", "demo-two"] });
  system = await startTestSystem({
    DEFAULT_LLM_BASE_URL: upstream.url,
    DEFAULT_LLM_API_KEYS: "good",
    DEFAULT_LLM_MODELS: "demo-echo",
    USAGE_RELAY_INTERVAL_MS: "200",
    QUOTA_CACHE_MS: "0",
    FIRST_ADMIN_EMAIL: admin.email,
    FIRST_ADMIN_USERNAME: admin.username,
    FIRST_ADMIN_PASSWORD: admin.password,
    OPERATOR_EMAIL: operator.email,
    OPERATOR_PASSWORD: operator.password,
    // One sign-in provider configured for the installation (never contacted here).
    OAUTH_GITHUB_CLIENT_ID: "admin-test-client",
    OAUTH_GITHUB_CLIENT_SECRET: "admin-test-client-secret",
  });
  database = await mongoose.createConnection(system.infrastructure.mongoUrl).asPromise();
});

afterAll(async () => {
  await database?.close();
  await system?.stopAll();
  await upstream?.close();
});

let counter = 0;
const json = async <T = any>(response: Response): Promise<T> => (await response.json()) as T;
const port = () => new URL(system.baseUrl).port;
const signIn = async (login: string, password: string, host?: string) => {
  const browser = new HttpClient(system.baseUrl, host ? { host } : {});
  expect((await browser.post("/api/v1/auth/login", { login, password })).status).toBe(200);
  return browser;
};
const register = async (host?: string) => {
  counter += 1;
  const suffix = `${Date.now().toString(36)}${counter}`;
  const browser = new HttpClient(system.baseUrl, host ? { host } : {});
  const response = await browser.post("/api/v1/auth/register", { email: `member${suffix}@example.com`, username: `member${suffix}`, password: "a perfectly fine passphrase" });
  expect(response.status).toBe(201);
  return { browser, user: (await json(response)).user as { id: string; username: string } };
};
const asAdmin = () => signIn(admin.username, admin.password);
const asOperator = () => signIn(operator.email, operator.password);
const newTenant = async (options: { sharedUpstream?: boolean } = {}) => {
  counter += 1;
  const slug = `adm${Date.now().toString(36)}${counter}`;
  const created = await (await asOperator()).post("/api/v1/operator/tenants", { slug, name: `Tenant ${slug}`, domains: [`${slug}.localhost`], ...options });
  expect(created.status).toBe(201);
  return { slug, host: `${slug}.localhost:${port()}` };
};
const auditOf = async (browser: HttpClient, query = "") => (await json(await browser.get(`/api/v1/admin/audit${query}`))) as { items: any[]; nextCursor: string | null };

const adminEndpoints: Array<[string, string, unknown?]> = [
  ["GET", "/api/v1/admin/users"],
  ["GET", "/api/v1/admin/users/some-user"],
  ["PATCH", "/api/v1/admin/users/some-user", { trustLevel: 1 }],
  ["GET", "/api/v1/admin/usage"],
  ["GET", "/api/v1/admin/usage/models"],
  ["GET", "/api/v1/admin/usage/some-user"],
  ["GET", "/api/v1/admin/settings"],
  ["PATCH", "/api/v1/admin/settings", { timeZone: "UTC" }],
  ["GET", "/api/v1/admin/audit"],
];
const operatorEndpoints: Array<[string, string, unknown?]> = [
  ["GET", "/api/v1/operator/tenants"],
  ["POST", "/api/v1/operator/tenants", { slug: "never-made", name: "Never" }],
  ["GET", "/api/v1/operator/tenants/default"],
  ["PATCH", "/api/v1/operator/tenants/default", { name: "Renamed" }],
  ["GET", "/api/v1/operator/audit"],
];

describe("who may administer", () => {
  it("answers a user 403 on every admin and operator endpoint, and an admin 403 on the operator's", async () => {
    const { browser } = await register();
    for (const [method, path, body] of [...adminEndpoints, ...operatorEndpoints]) {
      const response = await browser.request(method, path, body === undefined ? {} : { body });
      expect({ method, path, status: response.status }).toEqual({ method, path, status: 403 });
      expect(response.headers.get("content-type")).toMatch(/application\/problem\+json/);
    }
    const adminBrowser = await asAdmin();
    for (const [method, path, body] of operatorEndpoints) {
      expect({ path, status: (await adminBrowser.request(method, path, body === undefined ? {} : { body })).status }).toEqual({ path, status: 403 });
    }
  });

  it("refuses a personal API key on every admin and operator endpoint, even an admin's", async () => {
    const adminBrowser = await asAdmin();
    const key = (await json(await adminBrowser.post("/api/v1/me/api-keys", { name: "not for admin" }))).key as string;
    const client = new HttpClient(system.baseUrl);
    for (const [method, path, body] of [...adminEndpoints, ...operatorEndpoints]) {
      const response = await client.request(method, path, { headers: { authorization: `Bearer ${key}` }, ...(body === undefined ? {} : { body }) });
      expect({ path, refused: [401, 403].includes(response.status) }).toEqual({ path, refused: true });
    }
  });

  it("keeps an admin of another tenant out of this tenant's users and usage (404)", async () => {
    const tenant = await newTenant();
    const { user: theirAdmin } = await register(tenant.host);
    await database.collection("users").updateOne({ _id: theirAdmin.id as never }, { $set: { role: "admin" } });
    const other = await signIn(theirAdmin.username, "a perfectly fine passphrase", tenant.host);
    const { user: ours } = await register();

    expect((await other.get(`/api/v1/admin/users/${ours.id}`)).status).toBe(404);
    expect((await other.patch(`/api/v1/admin/users/${ours.id}`, { maxChats: 1 })).status).toBe(404);
    expect((await other.get(`/api/v1/admin/usage/${ours.id}`)).status).toBe(404);
    const listed = await json(await other.get(`/api/v1/admin/users?q=${ours.username}`));
    expect(listed.items).toEqual([]);
    // Their settings are theirs: a change there leaves ours as it was.
    expect((await other.patch("/api/v1/admin/settings", { defaultLimits: { messages: 3, tokens: null } })).status).toBe(200);
    expect((await json(await (await asAdmin()).get("/api/v1/admin/settings"))).defaultLimits.messages).not.toBe(3);
    expect((await auditOf(other)).items.every((entry) => entry.targetId !== ours.id)).toBe(true);
  });

  it("refuses unknown and privileged fields with 400 naming them, and changes nothing", async () => {
    const adminBrowser = await asAdmin();
    const { user } = await register();
    const cases: Array<[string, string, unknown, string]> = [
      ["PATCH", "/api/v1/admin/settings", { sharedUpstream: true }, "sharedUpstream"],
      ["PATCH", "/api/v1/admin/settings", { colour: "red" }, "colour"],
      ["PATCH", "/api/v1/admin/settings", { timeZone: "+05:00" }, "timeZone"],
      ["PATCH", "/api/v1/admin/settings", { defaultLimits: { messages: -1, tokens: null } }, "defaultLimits.messages"],
      ["PATCH", `/api/v1/admin/users/${user.id}`, { platformRole: "operator" }, "platformRole"],
      ["PATCH", `/api/v1/admin/users/${user.id}`, { tenantId: "elsewhere" }, "tenantId"],
      ["PATCH", `/api/v1/admin/users/${user.id}`, { role: "owner" }, "role"],
    ];
    const before = (await auditOf(adminBrowser)).items[0]?.id;
    for (const [method, path, body, field] of cases) {
      const response = await adminBrowser.request(method, path, { body });
      expect({ path, body, status: response.status }).toEqual({ path, body, status: 400 });
      expect((await json(response)).errors.map((error: { field: string }) => error.field)).toContain(field);
    }
    const ops = await asOperator();
    const refused = await ops.patch("/api/v1/operator/tenants/default", { colour: "red" });
    expect(refused.status).toBe(400);
    expect((await auditOf(adminBrowser)).items[0]?.id).toBe(before);
  });
});

describe("the audit log", () => {
  it("records each user change with actor, before/after and the request id", async () => {
    const adminBrowser = await asAdmin();
    const { user } = await register();
    const response = await adminBrowser.patch(`/api/v1/admin/users/${user.id}`, { status: "silenced", maxMessagesPerDay: 9 });
    expect(response.status).toBe(200);
    const me = await json(await adminBrowser.get("/api/v1/me"));
    const [entry] = (await auditOf(adminBrowser, `?targetId=${user.id}`)).items;
    expect(entry).toMatchObject({
      actorId: me.id,
      action: "user.update",
      targetType: "user",
      targetId: user.id,
      before: { status: "active" },
      after: { status: "silenced", maxMessagesPerDay: 9 },
      requestId: response.headers.get("x-request-id"),
    });
    expect(Date.parse(entry.at)).not.toBeNaN();
    expect((await auditOf(adminBrowser, `?actorId=${me.id}&action=user.update`)).items.map((item) => item.targetId)).toContain(user.id);
    expect((await auditOf(adminBrowser, "?action=no.such.action")).items).toEqual([]);
  });

  it("pages newest first, and a cursor is not disturbed by entries written meanwhile", async () => {
    const adminBrowser = await asAdmin();
    const { user } = await register();
    for (let level = 0; level < 5; level += 1) expect((await adminBrowser.patch(`/api/v1/admin/users/${user.id}`, { trustLevel: level % 5 })).status).toBe(200);
    const filter = `&targetId=${user.id}`;
    const first = await auditOf(adminBrowser, `?limit=2${filter}`);
    expect(first.items.map((item) => item.after.trustLevel)).toEqual([4, 3]);
    // New entries arrive while the admin pages on.
    for (const level of [1, 2]) expect((await adminBrowser.patch(`/api/v1/admin/users/${user.id}`, { trustLevel: level })).status).toBe(200);
    const second = await auditOf(adminBrowser, `?limit=2${filter}&cursor=${first.nextCursor}`);
    expect(second.items.map((item) => item.after.trustLevel)).toEqual([2, 1]);
    const third = await auditOf(adminBrowser, `?limit=2${filter}&cursor=${second.nextCursor}`);
    expect(third.items.map((item) => item.after.trustLevel)).toEqual([0]);
    expect(third.nextCursor).toBeNull();
    const fresh = await auditOf(adminBrowser, `?limit=2${filter}`);
    expect(fresh.items.map((item) => item.after.trustLevel)).toEqual([2, 1]);
    expect(new Set([...first.items, ...second.items, ...third.items].map((item) => item.id)).size).toBe(5);
    expect((await adminBrowser.get("/api/v1/admin/audit?cursor=not-a-cursor")).status).toBe(400);
  });

  it("gives the operator a platform audit of tenant actions", async () => {
    const ops = await asOperator();
    const tenant = await newTenant();
    const patched = await ops.patch(`/api/v1/operator/tenants/${tenant.slug}`, { timeZone: "Asia/Tokyo", sharedUpstream: true });
    expect(await json(patched)).toMatchObject({ timeZone: "Asia/Tokyo", sharedUpstream: true });
    const audit = await json(await ops.get(`/api/v1/operator/audit?targetId=${tenant.slug}`));
    expect(audit.items.map((item: { action: string }) => item.action)).toEqual(["tenant.update", "tenant.create"]);
    expect(audit.items[0]).toMatchObject({ before: { timeZone: "UTC", sharedUpstream: false }, after: { timeZone: "Asia/Tokyo", sharedUpstream: true } });
    // Tenant actions are the platform's: not in the tenant admin's log.
    expect((await auditOf(await asAdmin(), `?targetId=${tenant.slug}`)).items).toEqual([]);
  });
});

describe("tenant settings", () => {
  it("applies limits and the time zone to the very next request", async () => {
    const adminBrowser = await asAdmin();
    const { browser } = await register();
    expect((await json(await browser.get("/api/v1/quota"))).messages.limit).toBe(100);

    const patched = await adminBrowser.patch("/api/v1/admin/settings", { defaultLimits: { messages: 7, tokens: 70_000 }, premiumLimits: { messages: 70, tokens: null }, timeZone: "Asia/Kolkata" });
    expect({ status: patched.status, body: patched.status === 200 ? null : await patched.clone().json() }).toEqual({ status: 200, body: null });
    expect(await json(patched)).toMatchObject({ defaultLimits: { messages: 7, tokens: 70_000 }, premiumLimits: { messages: 70, tokens: null }, timeZone: "Asia/Kolkata" });
    const quota = await json(await browser.get("/api/v1/quota"));
    expect(quota.messages.limit).toBe(7);
    expect(quota.tokens.limit).toBe(70_000);
    const reset = new Date(quota.resetAt);
    expect(reset.getUTCHours() * 60 + reset.getUTCMinutes()).toBe(18 * 60 + 30);

    const [entry] = (await auditOf(adminBrowser, "?action=settings.update")).items;
    expect(entry).toMatchObject({ before: { timeZone: "UTC" }, after: { timeZone: "Asia/Kolkata", defaultLimits: { messages: 7, tokens: 70_000 } } });

    expect((await adminBrowser.patch("/api/v1/admin/settings", { defaultLimits: { messages: null, tokens: null }, premiumLimits: { messages: null, tokens: null }, timeZone: "UTC" })).status).toBe(200);
    expect((await json(await browser.get("/api/v1/quota"))).messages.limit).toBe(100);
  });

  it("keeps provider keys write-only: a count and the last four characters, never the key, in no response or log", async () => {
    const adminBrowser = await asAdmin();
    const created = await adminBrowser.patch("/api/v1/admin/settings", {
      providers: [{ name: "Second", baseUrl: upstream.url, models: [{ id: "demo-two", name: "Demo two" }], addKeys: [PROVIDER_KEY] }],
    });
    const createdText = await created.text();
    expect(created.status).toBe(200);
    const settings = JSON.parse(createdText);
    expect(settings.providers).toEqual([
      { id: expect.any(String), name: "Second", baseUrl: upstream.url, models: [{ id: "demo-two", name: "Demo two" }], keyCount: 1, keys: [{ id: expect.any(String), last4: PROVIDER_KEY.slice(-4) }], updatedAt: expect.any(String) },
    ]);
    expect(settings.availableModels.map((model: { id: string }) => model.id).sort()).toEqual(["demo-echo", "demo-two"]);

    // Offer only the new provider's model: users see it at once, and can chat with it.
    const { browser } = await register();
    expect((await adminBrowser.patch("/api/v1/admin/settings", { models: ["demo-two"] })).status).toBe(200);
    expect(await json(await browser.get("/api/v1/models"))).toEqual([{ id: "demo-two", name: "Demo two" }]);
    const chat = (await json(await browser.post("/api/v1/chats", {}))).chat;
    expect(chat.model).toBe("demo-two");
    const answer = await browser.post(`/api/v1/chats/${chat.id}/messages`, { content: "hello there", clientMessageId: `c-${Date.now()}` });
    expect(await answer.text()).toMatch(/event: done\ndata: .*"content":"Echo: hello there"/);
    expect((await adminBrowser.patch("/api/v1/admin/settings", { models: ["no-such-model"] })).status).toBe(400);

    // Provider URLs reaching inside the installation are refused (chat's guard), named in the settings body.
    const inside = await adminBrowser.patch("/api/v1/admin/settings", {
      providers: [...settings.providers.map((p: { id: string; name: string; baseUrl: string; models: unknown }) => ({ id: p.id, name: p.name, baseUrl: p.baseUrl, models: p.models })), { name: "Metadata", baseUrl: "http://169.254.169.254/v1", models: [{ id: "x" }], addKeys: ["sk-inside-1234567"] }],
    });
    expect(inside.status).toBe(400);
    expect((await json(inside)).errors.map((error: { field: string }) => error.field)).toContain("providers.1.baseUrl");

    // Renaming keeps the key; removing the provider deletes it; each is audited without the key.
    const provider = settings.providers[0];
    expect((await adminBrowser.patch("/api/v1/admin/settings", { providers: [{ id: provider.id, name: "Renamed", baseUrl: upstream.url, models: provider.models }] })).status).toBe(200);
    const removed = await json(await adminBrowser.patch("/api/v1/admin/settings", { providers: [], models: [] }));
    expect(removed.providers).toEqual([]);
    expect(await json(await browser.get("/api/v1/models"))).toEqual([{ id: "demo-echo", name: "demo-echo" }]);
    const auditResponse = await adminBrowser.get(`/api/v1/admin/audit?targetId=${provider.id}`);
    const auditText = await auditResponse.text();
    expect(JSON.parse(auditText).items.map((item: { action: string }) => item.action)).toEqual(["provider.delete", "provider.update", "provider.create"]);
    expect(JSON.parse(auditText).items[2].after).toMatchObject({ name: "Second", keys: [{ last4: PROVIDER_KEY.slice(-4) }] });

    for (const text of [createdText, auditText, await (await adminBrowser.get("/api/v1/admin/settings")).text(), system.logs.join("\n")]) {
      expect(text).not.toContain(PROVIDER_KEY);
      expect(text).not.toContain(PROVIDER_KEY.slice(0, 12));
    }
    const stored = await database.collection("audit_log").find({}).toArray();
    expect(JSON.stringify(stored)).not.toContain(PROVIDER_KEY);
  });

  it("gives a tenant the shared upstream only when the operator grants it", async () => {
    const tenant = await newTenant();
    const { browser } = await register(tenant.host);
    expect(await json(await browser.get("/api/v1/models"))).toEqual([]);
    const ops = await asOperator();
    expect((await ops.patch(`/api/v1/operator/tenants/${tenant.slug}`, { sharedUpstream: true })).status).toBe(200);
    expect(await json(await browser.get("/api/v1/models"))).toEqual([{ id: "demo-echo", name: "demo-echo" }]);
    expect((await ops.patch(`/api/v1/operator/tenants/${tenant.slug}`, { sharedUpstream: false })).status).toBe(200);
    expect(await json(await browser.get("/api/v1/models"))).toEqual([]);
  });

  it("enables sign-in providers per tenant from the very next request", async () => {
    const providerIds = async (browser: HttpClient) => (await json(await browser.get("/api/v1/auth/providers"))).map((provider: { id: string }) => provider.id);
    const tenant = await newTenant();
    const { browser, user } = await register(tenant.host);
    expect(await providerIds(browser)).toEqual([]);
    await database.collection("users").updateOne({ _id: user.id as never }, { $set: { role: "admin" } });
    const tenantAdmin = await signIn(user.username, "a perfectly fine passphrase", tenant.host);
    expect(await json(await tenantAdmin.patch("/api/v1/admin/settings", { signInProviders: ["github", "google"] }))).toMatchObject({ signInProviders: ["github"] });
    expect(await providerIds(browser)).toEqual(["github"]);
    expect((await tenantAdmin.patch("/api/v1/admin/settings", { signInProviders: ["myspace"] })).status).toBe(400);
    expect((await auditOf(tenantAdmin, "?action=settings.update")).items[0]).toMatchObject({ before: { signInProviders: [] }, after: { signInProviders: ["github"] } });
    // The default tenant keeps the environment's default until its admin chooses.
    const visitor = new HttpClient(system.baseUrl);
    expect(await providerIds(visitor)).toEqual(["github"]);
    const adminBrowser = await asAdmin();
    expect((await adminBrowser.patch("/api/v1/admin/settings", { signInProviders: [] })).status).toBe(200);
    expect(await providerIds(visitor)).toEqual([]);
    expect((await adminBrowser.patch("/api/v1/admin/settings", { signInProviders: ["github"] })).status).toBe(200);
    expect(await providerIds(visitor)).toEqual(["github"]);
  });

  it("sets the password minimum of the tenant's sign-ups", async () => {
    const tenant = await newTenant();
    const { user } = await register(tenant.host);
    await database.collection("users").updateOne({ _id: user.id as never }, { $set: { role: "admin" } });
    const tenantAdmin = await signIn(user.username, "a perfectly fine passphrase", tenant.host);
    expect(await json(await tenantAdmin.patch("/api/v1/admin/settings", { minPasswordLength: 40 }))).toMatchObject({ minPasswordLength: 40, selfRegistration: true });
    const signUp = (name: string) =>
      new HttpClient(system.baseUrl, { host: tenant.host }).post("/api/v1/auth/register", { email: `${name}${tenant.slug}@example.com`, username: `${name}${tenant.slug}`, password: "a perfectly fine passphrase" });
    expect((await signUp("short")).status).toBe(400);

    // Closing self-registration applies to the next sign-up, and is audited.
    expect(await json(await tenantAdmin.patch("/api/v1/admin/settings", { minPasswordLength: 8, selfRegistration: false }))).toMatchObject({ selfRegistration: false });
    const closed = await signUp("closed");
    expect(closed.status).toBe(403);
    expect((await json(closed)).type).toMatch(/registration_closed$/);
    expect((await auditOf(tenantAdmin, "?action=settings.update")).items[0]).toMatchObject({ before: { selfRegistration: true, minPasswordLength: 40 }, after: { selfRegistration: false, minPasswordLength: 8 } });
    expect((await tenantAdmin.patch("/api/v1/admin/settings", { selfRegistration: true })).status).toBe(200);
    expect((await signUp("open")).status).toBe(201);
  });

  it("bounds every answer by the tenant's token maximum from the very next request: reserved, and capped at the model", async () => {
    const adminBrowser = await asAdmin();
    const { browser, user } = await register();
    const { key } = await json<{ key: string }>(await browser.post("/api/v1/me/api-keys", { name: "cap" }));
    expect((await adminBrowser.patch(`/api/v1/admin/users/${user.id}`, { maxTokensPerDay: 1_000 })).status).toBe(200);
    const complete = (body: Record<string, unknown>, signal?: AbortSignal) =>
      fetch(`${system.baseUrl}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body), signal });
    const ask = async (content: string, extra: Record<string, unknown> = {}) => {
      const response = await complete({ model: "demo-echo", messages: [{ role: "user", content }], ...extra });
      return { status: response.status, body: await json(response) };
    };
    const tokensUsed = async () => (await json(await browser.get("/api/v1/quota"))).tokens.used as number;
    const words = (text: string) => text.split(" ").length;
    const eventually = async (check: () => Promise<void>) => {
      for (const deadline = Date.now() + 20_000; ; await new Promise((resolve) => setTimeout(resolve, 50))) {
        try {
          return await check();
        } catch (error) {
          if (Date.now() > deadline) throw error;
        }
      }
    };
    /** While an answer of the "slow" provider is held back, its reservation adds to what the user has used. */
    const whileHeld = async (look: (reserved: number) => Promise<number>) => {
      const before = await tokensUsed();
      const cancel = new AbortController();
      const held = complete({ model: "demo-two", messages: [{ role: "user", content: "hold this" }] }, cancel.signal).catch(() => undefined);
      let reserved = 0;
      await eventually(async () => expect((reserved = (await tokensUsed()) - before)).toBeGreaterThan(0));
      let spent = 0;
      try {
        spent = await look(reserved);
      } finally {
        cancel.abort();
        await held;
      }
      // Cancelled before any answer: the reservation is given back; what the other request used stays.
      await eventually(async () => expect(await tokensUsed()).toBe(before + spent));
    };
    const slow = await adminBrowser.patch("/api/v1/admin/settings", { providers: [{ name: "Slow", baseUrl: upstream.url, models: [{ id: "demo-two" }], addKeys: ["slow"] }] });
    expect(slow.status).toBe(200);
    try {
      expect(await json(await adminBrowser.get("/api/v1/admin/settings"))).toMatchObject({ maxCompletionTokens: null });
      // The installation's default (4,096) is reserved: a second request finds the 1,000 tokens taken.
      await whileHeld(async (reserved) => {
        expect(reserved).toBeGreaterThan(4_096);
        const refused = await ask("[words=3]");
        expect(refused.status).toBe(429);
        expect(refused.body.error.code).toBe("insufficient_quota");
        return 0;
      });

      const patched = await adminBrowser.patch("/api/v1/admin/settings", { maxCompletionTokens: 50 });
      expect(patched.status).toBe(200);
      expect(await json(patched)).toMatchObject({ maxCompletionTokens: 50 });
      // The very next request reserves at most 50 tokens of answer, so another one fits beside it,
      // and the model is asked for no more than 50 whatever the request says.
      await whileHeld(async (reserved) => {
        expect(reserved).toBeGreaterThan(50);
        expect(reserved).toBeLessThan(100);
        const capped = await ask("[words=80]", { max_tokens: 1_000 });
        expect(capped.status).toBe(200);
        expect(words(capped.body.choices[0].message.content)).toBe(50);
        expect(capped.body.choices[0].finish_reason).toBe("length");
        expect(capped.body.usage.completion_tokens).toBe(50);
        return capped.body.usage.total_tokens as number;
      });
      // A request naming no maximum, through /v1 and the web chat, gets the tenant's.
      expect(words((await ask("[words=80]")).body.choices[0].message.content)).toBe(50);
      const chat = (await json(await browser.post("/api/v1/chats", { model: "demo-echo" }))).chat;
      const sent = await (await browser.post(`/api/v1/chats/${chat.id}/messages`, { content: "[words=80]", clientMessageId: `cap-${Date.now()}` })).text();
      const done = JSON.parse(/event: done\ndata: (.*)\n/.exec(sent)?.[1] ?? "null");
      expect(words(done.message.content)).toBe(50);
      expect((await auditOf(adminBrowser, "?action=settings.update")).items[0]).toMatchObject({ before: { maxCompletionTokens: null }, after: { maxCompletionTokens: 50 } });

      for (const bad of [0, 1_000_001, 2.5, "100"]) {
        const refused = await adminBrowser.patch("/api/v1/admin/settings", { maxCompletionTokens: bad });
        expect(refused.status).toBe(400);
        expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/);
        expect((await json(refused)).errors.map((error: { field: string }) => error.field)).toEqual(["maxCompletionTokens"]);
      }
      expect(await json(await adminBrowser.get("/api/v1/admin/settings"))).toMatchObject({ maxCompletionTokens: 50 });

      // Back to the installation's default: nothing is sent when the request names no maximum.
      expect(await json(await adminBrowser.patch("/api/v1/admin/settings", { maxCompletionTokens: null }))).toMatchObject({ maxCompletionTokens: null });
      expect(words((await ask("[words=80]")).body.choices[0].message.content)).toBe(80);
    } finally {
      await adminBrowser.patch("/api/v1/admin/settings", { maxCompletionTokens: null, providers: [] });
    }
  });
});

describe("usage views", () => {
  it("shows a day's per-user usage, a user's series and totals per model", async () => {
    const adminBrowser = await asAdmin();
    const { browser, user } = await register();
    const chat = (await json(await browser.post("/api/v1/chats", {}))).chat;
    const sent = await (await browser.post(`/api/v1/chats/${chat.id}/messages`, { content: "count me", clientMessageId: `u-${Date.now()}` })).text();
    expect(sent).toContain("event: done");
    // The views read the rollups, which follow the live counters by one write: wait for this user's.
    const deadline = Date.now() + 20_000;
    let models: any;
    let day: any;
    for (;;) {
      models = await json(await adminBrowser.get("/api/v1/admin/usage/models"));
      day = await json(await adminBrowser.get(`/api/v1/admin/usage?date=${models.to}`));
      if (day.items.some((item: { userId: string }) => item.userId === user.id) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(models.items.find((item: { model: string }) => item.model === chat.model)).toMatchObject({ messages: expect.any(Number), tokens: expect.any(Number) });
    expect(models.totals.messages).toBeGreaterThanOrEqual(1);
    expect(day.items.find((item: { userId: string }) => item.userId === user.id)).toMatchObject({ username: user.username, messages: 1 });
    const series = await json(await adminBrowser.get(`/api/v1/admin/usage/${user.id}?from=${models.to}&to=${models.to}`));
    expect(series.days).toEqual([expect.objectContaining({ date: models.to, messages: 1 })]);
    const paged = await json(await adminBrowser.get("/api/v1/admin/usage/models?limit=1"));
    expect(paged.items).toHaveLength(1);
    expect((await adminBrowser.get("/api/v1/admin/usage/models?from=2026-13-01")).status).toBe(400);
  });
});
