import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRedis, createGrpcClient, createLogger, createSessionGrantSigner, type AppError } from "@tessera/platform";
import { IdentityServiceService } from "@tessera/proto/tessera/identity/v1/identity";
import { SessionServiceService } from "@tessera/proto/tessera/session/v1/session";
import { HttpClient, startTestSystem, type TestSystem } from "@tessera/platform/testing";
import { startDemoUpstream, type DemoUpstream } from "../../services/chat/src/demo-upstream/demo-upstream.ts";

// Attacks on the running system, over HTTP, as an outsider would try them (issue 10).
let system: TestSystem;
let upstream: DemoUpstream;
const admin = { email: "root@example.com", username: "root", password: "root of all accounts" };
const operator = { email: "ops@example.com", password: "operating the platform" };

beforeAll(async () => {
  upstream = await startDemoUpstream({ tokenDelayMs: 1 });
  system = await startTestSystem({
    DEFAULT_LLM_BASE_URL: upstream.url,
    DEFAULT_LLM_API_KEYS: "good",
    DEFAULT_LLM_MODELS: "demo-echo",
    FIRST_ADMIN_EMAIL: admin.email,
    FIRST_ADMIN_USERNAME: admin.username,
    FIRST_ADMIN_PASSWORD: admin.password,
    OPERATOR_EMAIL: operator.email,
    OPERATOR_PASSWORD: operator.password,
    LOGIN_MAX_FAILURES_PER_ACCOUNT: "5",
    REGISTRATION_MAX_PER_IP: "10",
    // Each test speaks from its own address (X-Forwarded-For from the loopback "proxy").
    TRUSTED_PROXIES: "loopback",
  });
});
afterAll(async () => {
  await system?.stopAll();
  await upstream?.close();
});

let counter = 0;
const newUser = () => {
  counter += 1;
  const suffix = `${Date.now().toString(36)}${counter}`;
  return { email: `sec${suffix}@example.com`, username: `sec${suffix}`, password: "a perfectly fine passphrase" };
};
const json = async <T = any>(response: Response): Promise<T> => (await response.json()) as T;
const from = (ip: string) => ({ "x-forwarded-for": ip });
const signedIn = async (user = newUser()) => {
  const browser = new HttpClient(system.baseUrl);
  const response = await browser.post("/api/v1/auth/register", user, from(`192.0.2.${counter % 250}`));
  expect(response.status).toBe(201);
  return { browser, user, id: (await json(response)).user.id as string };
};
const login = async (credentials: { login: string; password: string }) => {
  const browser = new HttpClient(system.baseUrl);
  const response = await browser.post("/api/v1/auth/login", credentials);
  return { browser, response };
};

describe("sign-in and registration throttling", () => {
  it("lets at most the limit through of 50 parallel sign-ins against one account, the right password among them", async () => {
    const { user } = await signedIn();
    const attackers = await Promise.all(Array.from({ length: 50 }, async () => {
      const browser = new HttpClient(system.baseUrl);
      await browser.fetchCsrf();
      return browser;
    }));
    const statuses = await Promise.all(
      attackers.map(async (browser, index) =>
        (await browser.post("/api/v1/auth/login", { login: index % 2 ? user.username : user.email.toUpperCase(), password: index === 30 ? user.password : `guess ${index}` })).status,
      ),
    );
    expect(statuses.filter((status) => status !== 429).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(45);
  });

  it("keeps the owner's browser that signed in before able to sign in while strangers are locked out", async () => {
    const { user } = await signedIn();
    const { browser: owner, response } = await login({ login: user.username, password: user.password });
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie().some((cookie) => cookie.startsWith("tessera_device=") && /HttpOnly/i.test(cookie))).toBe(true);
    expect((await owner.post("/api/v1/auth/logout")).status).toBe(204);
    for (let index = 0; index < 6; index += 1) await login({ login: user.email, password: `guess ${index}` });
    const stranger = await login({ login: user.email, password: user.password });
    expect(stranger.response.status).toBe(429);
    expect(Number(stranger.response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await owner.post("/api/v1/auth/login", { login: user.email, password: user.password })).status).toBe(200);
  });

  it("throttles 30 parallel registrations from one IP", async () => {
    const browsers = await Promise.all(Array.from({ length: 30 }, async () => {
      const browser = new HttpClient(system.baseUrl);
      await browser.fetchCsrf();
      return browser;
    }));
    const statuses = await Promise.all(browsers.map(async (browser) => (await browser.post("/api/v1/auth/register", newUser(), from("198.51.100.77"))).status));
    expect(statuses.filter((status) => status === 201).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(20);
  });
});

describe("headers and probes", () => {
  it("sends a strict CSP, nosniff, a referrer policy and no framing on the app and the API", async () => {
    for (const path of ["/", "/api/v1/auth/csrf", "/healthz"]) {
      const response = await fetch(new URL(path, system.baseUrl));
      const policy = response.headers.get("content-security-policy") ?? "";
      expect(policy, path).toContain("frame-ancestors 'none'");
      expect(policy, path).not.toContain("unsafe-eval");
      expect(policy, path).not.toMatch(/script-src[^;]*'unsafe-inline'/);
      expect(response.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(response.headers.get("referrer-policy"), path).toBe("strict-origin-when-cross-origin");
      // Served over plain HTTP here: no HSTS (it is sent when PUBLIC_BASE_URL is https).
      expect(response.headers.get("strict-transport-security"), path).toBeNull();
    }
  });

  it("names the dependencies in /readyz only for callers inside, not through a proxy", async () => {
    const direct = await json(await fetch(new URL("/readyz", system.baseUrl)));
    expect(Object.keys(direct.checks).length).toBeGreaterThan(0);
    const relayed = await fetch(new URL("/readyz", system.baseUrl), { headers: { "x-forwarded-for": "203.0.113.5" } });
    expect(await json(relayed)).toEqual({ status: "ok", checks: {} });
  });
});

describe("bad input", () => {
  it("answers a NUL character with 400 naming the field, and writes nothing", async () => {
    const { browser } = await signedIn();
    const first = await browser.post("/api/v1/chats", { title: "clean" });
    expect(first.status).toBe(201);
    const before = (await json(first)).chat;
    const created = await browser.post("/api/v1/chats", { title: "bad\u0000title" });
    expect(created.status).toBe(400);
    expect((await json(created)).errors).toEqual([expect.objectContaining({ field: "title" })]);
    const renamed = await browser.patch(`/api/v1/chats/${before.id}`, { title: "evil\u0000" });
    expect(renamed.status).toBe(400);
    const sent = await browser.post(`/api/v1/chats/${before.id}/messages`, { content: "hello\u0000", clientMessageId: crypto.randomUUID() });
    expect(sent.status).toBe(400);
    expect((await json(sent)).errors).toEqual([expect.objectContaining({ field: "content" })]);
    const after = await json(await browser.get(`/api/v1/chats/${before.id}`));
    expect((after.chat ?? after).updatedAt).toBe(before.updatedAt);
    expect((await json(await browser.get("/api/v1/chats"))).items).toHaveLength(1);
    expect((await browser.get("/api/v1/chats/abc%00def")).status).toBe(400);
    expect((await browser.get("/api/v1/chats?cursor=a%00b")).status).toBe(400);
  });

  it("answers an unsupported method with 405 and Allow", async () => {
    const browser = new HttpClient(system.baseUrl);
    const response = await browser.request("PUT", "/api/v1/chats");
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")?.split(", ").sort()).toEqual(["GET", "HEAD", "POST"]);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect((await browser.request("DELETE", "/api/v1/auth/csrf")).headers.get("allow")).toBe("GET, HEAD");
    expect((await browser.request("PATCH", "/api/v1/no-such-thing")).status).toBe(404);
  });

  // Found by `npm run fuzz`: numbers the gRPC contract cannot carry (int32) were a 500.
  it("answers a number out of its range with 400 naming the field, not 500", async () => {
    const { browser: member, id } = await signedIn();
    const adminBrowser = new HttpClient(system.baseUrl);
    expect((await adminBrowser.post("/api/v1/auth/login", { login: admin.email, password: admin.password })).status).toBe(200);
    const settings = await adminBrowser.patch("/api/v1/admin/settings", { minPasswordLength: 2_147_483_648 });
    expect(settings.status).toBe(400);
    expect((await json(settings)).errors).toEqual([expect.objectContaining({ field: "minPasswordLength" })]);
    const user = await adminBrowser.patch(`/api/v1/admin/users/${id}`, { maxMessagesPerDay: 3_000_000_000 });
    expect(user.status).toBe(400);
    expect((await json(user)).errors).toEqual([expect.objectContaining({ field: "maxMessagesPerDay" })]);
    // Nothing was applied: the member's limit is still the tenant's.
    expect((await json(await member.get("/api/v1/quota"))).messages.limit).toBe(100);
  });

  // Found by `npm run fuzz`: /v1 errors raised before its router, or by Node's parser, came as problem documents.
  it("answers /v1 in OpenAI's error format even before its routes run: 405, NUL, a header Node refuses", async () => {
    const method = await fetch(`${system.baseUrl}/v1/models`, { method: "PUT" });
    expect(method.status).toBe(405);
    expect(method.headers.get("allow")).toBe("GET, HEAD");
    expect(method.headers.get("content-type")).toContain("application/json");
    expect((await json(method)).error).toMatchObject({ type: "invalid_request_error", code: "method_not_allowed" });
    const nul = await fetch(`${system.baseUrl}/v1/models?q=a%00b`);
    expect(nul.status).toBe(400);
    expect((await json(nul)).error).toMatchObject({ type: "invalid_request_error", param: "q" });
    const raw = async (path: string) => {
      const { port } = new URL(system.baseUrl);
      const socket = connect(Number(port), "127.0.0.1");
      let answer = "";
      socket.on("data", (chunk) => (answer += chunk.toString("latin1")));
      await new Promise((resolve) => socket.on("connect", resolve));
      socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \u0001\r\n\r\n`);
      await new Promise((resolve) => socket.on("close", resolve));
      const [head, body] = answer.split("\r\n\r\n");
      return { head: head!, body: JSON.parse(body!) };
    };
    const openAi = await raw("/v1/models");
    expect(openAi.head).toMatch(/^HTTP\/1\.1 400 .*content-type: application\/json/is);
    expect(openAi.body.error).toMatchObject({ type: "invalid_request_error", code: "bad_request" });
    const api = await raw("/api/v1/me");
    expect(api.head).toMatch(/content-type: application\/problem\+json/i);
    expect(api.body).toMatchObject({ status: 400, type: "https://tessera.dev/problems/bad_request" });
  });
});

describe("anonymous visitors", () => {
  it("cost no server state: 10,000 anonymous CSRF requests leave Redis' key count unchanged", async () => {
    const { redis, close } = connectRedis(system.infrastructure.redisUrl, createLogger("test", "silent"));
    const keysNow = async () => {
      const found = new Set<string>();
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${system.infrastructure.redisKeyPrefix}*`, "COUNT", 1000);
        cursor = next;
        for (const key of keys) found.add(key);
      } while (cursor !== "0");
      return found;
    };
    try {
      const before = await keysNow();
      let index = 0;
      const tokens = new Set<string>();
      await Promise.all(
        Array.from({ length: 25 }, async () => {
          while (index < 10_000) {
            index += 1;
            const response = await fetch(new URL("/api/v1/auth/csrf", system.baseUrl));
            expect(response.status).toBe(200);
            if (tokens.size < 100) tokens.add(((await response.json()) as { token: string }).token);
            else await response.arrayBuffer();
          }
        }),
      );
      // And state-changing requests of a visitor with a valid token: signing out with nobody signed in.
      const visitor = new HttpClient(system.baseUrl);
      for (let attempt = 0; attempt < 50; attempt += 1) expect((await visitor.post("/api/v1/auth/logout")).status).toBe(204);
      expect(tokens.size).toBe(100);
      // Keys of earlier tests may expire meanwhile; none may appear.
      const after = await keysNow();
      expect([...after].filter((key) => !before.has(key))).toEqual([]);
      expect(after.size).toBeLessThanOrEqual(before.size);
      // The token is bound to the browser's CSRF cookie: another browser's token is refused.
      const other = new HttpClient(system.baseUrl);
      const stolen = await other.fetchCsrf();
      expect((await visitor.post("/api/v1/auth/logout", undefined, { "x-csrf-token": stolen })).status).toBe(403);
    } finally {
      await close();
    }
  });
});

describe("API key scopes", () => {
  it("lets a key do only what its owner chose, and no key reaches key management, admin or operator routes", async () => {
    const adminBrowser = new HttpClient(system.baseUrl);
    expect((await adminBrowser.post("/api/v1/auth/login", { login: admin.email, password: admin.password })).status).toBe(200);
    const create = async (body: Record<string, unknown>) => {
      const response = await adminBrowser.post("/api/v1/me/api-keys", body);
      expect(response.status).toBe(201);
      return (await json(response)) as { key: string; scopes: string[] };
    };
    const inferenceOnly = await create({ name: "default" });
    expect(inferenceOnly.scopes).toEqual(["inference"]);
    const reader = await create({ name: "reader", scopes: ["chats:read"] });
    const everything = await create({ name: "all", scopes: ["inference", "chats:read", "chats:write", "usage:read"] });
    expect((await adminBrowser.post("/api/v1/me/api-keys", { name: "bad", scopes: ["admin"] })).status).toBe(400);
    const listed = (await json(await adminBrowser.get("/api/v1/me/api-keys"))) as Array<{ name: string; scopes: string[] }>;
    expect(listed.find((key) => key.name === "reader")?.scopes).toEqual(["chats:read"]);

    const withKey = (key: string, method: string, path: string, body?: unknown) =>
      fetch(new URL(path, system.baseUrl), { method, headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : null });
    // The default key: the OpenAI-compatible API only.
    expect((await withKey(inferenceOnly.key, "GET", "/v1/models")).status).toBe(200);
    expect((await withKey(inferenceOnly.key, "GET", "/api/v1/chats")).status).toBe(403);
    expect((await withKey(reader.key, "GET", "/api/v1/chats")).status).toBe(200);
    expect((await withKey(reader.key, "POST", "/api/v1/chats", { title: "from a reader" })).status).toBe(403);
    expect((await withKey(reader.key, "POST", "/v1/chat/completions", { model: "demo-echo", messages: [{ role: "user", content: "hi" }] })).status).toBe(403);
    expect((await withKey(everything.key, "POST", "/api/v1/chats", { title: "from a writer" })).status).toBe(201);
    // Whatever its scopes, an admin's key is no admin.
    for (const [method, path] of [
      ["GET", "/api/v1/admin/users"],
      ["GET", "/api/v1/admin/settings"],
      ["GET", "/api/v1/admin/audit"],
      ["GET", "/api/v1/operator/tenants"],
      ["GET", "/api/v1/me/api-keys"],
      ["POST", "/api/v1/me/api-keys"],
      ["PUT", "/api/v1/me/password"],
      ["GET", "/api/v1/me/sessions"],
    ] as const) {
      expect((await withKey(everything.key, method, path, method === "GET" ? undefined : { name: "x", newPassword: "another fine passphrase" })).status, `${method} ${path}`).toBe(403);
    }
  });
});

describe("internal trust", () => {
  it("opens a session only against identity's grant, never for a holder of the shared internal token alone", async () => {
    const { user, id } = await signedIn();
    const internal = { internalToken: system.env.INTERNAL_GRPC_TOKEN!, defaultDeadlineMs: 10_000 };
    const session = createGrpcClient(SessionServiceService, { name: "session", address: `127.0.0.1:${system.ports.session.grpc}`, ...internal });
    const identity = createGrpcClient(IdentityServiceService, { name: "identity", address: `127.0.0.1:${system.ports.identity.grpc}`, ...internal });
    try {
      const refusal = (sessionGrant: string) =>
        session.createSession({ sessionGrant, rememberMe: true, deviceInfo: "attacker", ip: "203.0.113.9" }).then(
          () => "opened",
          (error: AppError) => `${error.status} ${error.code}`,
        );
      // What chat, quota, admin or the BFF could do with the shared token: no grant, or one they made up.
      expect(await refusal("")).toBe("403 session_grant_required");
      const forged = await createSessionGrantSigner(randomBytes(32).toString("base64url"))({ tenantId: "default", userId: id, role: "admin" });
      expect(await refusal(forged)).toBe("403 session_grant_required");
      const unsigned = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(JSON.stringify({ sub: id, tid: "default", role: "admin" })).toString("base64url")}.`;
      expect(await refusal(unsigned)).toBe("403 session_grant_required");

      // Identity's sign-in grants exactly one session, for the user it checked.
      const { sessionGrant, user: checked } = await identity.verifyPassword({ tenantId: "default", login: user.username, password: user.password, clientIp: "192.0.2.250", deviceId: "" });
      expect(checked?.id).toBe(id);
      const opened = await session.createSession({ sessionGrant, rememberMe: false, deviceInfo: "e2e", ip: "192.0.2.250" });
      expect(opened.userId).toBe(id);
      expect(await refusal(sessionGrant)).toBe("403 session_grant_used");
    } finally {
      session.close();
      identity.close();
    }
    // And the browser's sign-in, through identity, still works.
    const { browser, response } = await login({ login: user.email, password: user.password });
    expect(response.status).toBe(200);
    expect((await json(await browser.get("/api/v1/me"))).id).toBe(id);
  });
});
