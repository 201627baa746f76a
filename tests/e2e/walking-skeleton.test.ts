import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient, startTestSystem, testInfrastructure, type TestSystem } from "@tessera/platform/testing";

let system: TestSystem;

beforeAll(async () => {
  system = await startTestSystem();
});

afterAll(async () => {
  await system?.stopAll();
});

const uniqueUser = () => {
  const suffix = Math.random().toString(36).slice(2, 8);
  return { email: `User.${suffix}@Example.com`, username: `user_${suffix}`, password: "purple monkey dishwasher 42" };
};

const problemOf = async (response: Response) => {
  expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  return (await response.json()) as { type: string; title: string; status: number; detail: string; errors?: Array<{ field: string; message: string }> };
};

describe("register, login, me, logout through every layer", () => {
  it("registers, signs in by email or username, shows who you are and signs out", async () => {
    const browser = new HttpClient(system.baseUrl);
    const user = uniqueUser();
    const registered = await browser.post("/api/v1/auth/register", { ...user, fullName: "Ada Lovelace" });
    expect(registered.status).toBe(201);
    const setCookie = registered.headers.getSetCookie().join("\n");
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    const { user: created } = (await registered.json()) as { user: Record<string, unknown> };
    expect(created).toMatchObject({ email: user.email.toLowerCase(), username: user.username, fullName: "Ada Lovelace", role: "user", status: "active", tenantId: "default", hasPassword: true, isPremium: false, premiumUntil: null });
    expect(created).not.toHaveProperty("passwordHash");

    const me = await browser.get("/api/v1/me");
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ id: created.id, username: user.username, trustLevel: 0 });

    expect((await browser.post("/api/v1/auth/logout")).status).toBe(204);
    expect((await browser.get("/api/v1/me")).status).toBe(401);

    const byEmail = await browser.post("/api/v1/auth/login", { login: user.email.toUpperCase(), password: user.password });
    expect(byEmail.status).toBe(200);
    expect(((await byEmail.json()) as { user: { id: string } }).user.id).toBe(created.id);
    expect((await browser.post("/api/v1/auth/logout")).status).toBe(204);

    const byUsername = await browser.post("/api/v1/auth/login", { login: user.username, password: user.password, rememberMe: true });
    expect(byUsername.status).toBe(200);
    expect(byUsername.headers.getSetCookie().join("\n")).toMatch(/Max-Age=\d+/i);
    expect((await browser.get("/api/v1/me")).status).toBe(200);
  });

  it("answers 409 when the email or the username is taken", async () => {
    const browser = new HttpClient(system.baseUrl);
    const user = uniqueUser();
    expect((await browser.post("/api/v1/auth/register", user)).status).toBe(201);
    const other = new HttpClient(system.baseUrl);
    const sameEmail = await other.post("/api/v1/auth/register", { ...user, username: `${user.username}x` });
    expect(sameEmail.status).toBe(409);
    expect((await problemOf(sameEmail)).errors?.[0]?.field).toBe("email");
    const sameUsername = await other.post("/api/v1/auth/register", { ...user, email: `x${user.email}` });
    expect(sameUsername.status).toBe(409);
    expect((await problemOf(sameUsername)).errors?.[0]?.field).toBe("username");
  });

  it("lists every bad field of a registration", async () => {
    const browser = new HttpClient(system.baseUrl);
    const response = await browser.post("/api/v1/auth/register", { email: "not-an-email", username: "x", password: "short" });
    expect(response.status).toBe(400);
    const problem = await problemOf(response);
    expect(problem.status).toBe(400);
    expect(problem.errors?.map((error) => error.field).sort()).toEqual(["email", "password", "username"]);
    const common = await browser.post("/api/v1/auth/register", { ...uniqueUser(), password: "password123" });
    expect((await problemOf(common)).errors?.[0]).toMatchObject({ field: "password" });
  });

  it("rejects unknown fields and wrong types instead of applying them", async () => {
    const browser = new HttpClient(system.baseUrl);
    const response = await browser.post("/api/v1/auth/register", { ...uniqueUser(), role: "admin", tenantId: "other" });
    expect(response.status).toBe(400);
    const fields = (await problemOf(response)).errors?.map((error) => error.field).sort();
    expect(fields).toEqual(["role", "tenantId"]);
    const wrongType = await browser.post("/api/v1/auth/login", { login: 42, password: true });
    expect(wrongType.status).toBe(400);
  });

  it("answers malformed JSON with 400, never 500", async () => {
    const browser = new HttpClient(system.baseUrl);
    const response = await browser.request("POST", "/api/v1/auth/login", { rawBody: '{"login": "a", ' });
    expect(response.status).toBe(400);
    expect((await problemOf(response)).type).toMatch(/malformed_json$/);
    const notObject = await browser.request("POST", "/api/v1/auth/login", { rawBody: "[1,2]" });
    expect(notObject.status).toBe(400);
  });

  it("gives unknown users and wrong passwords the same 401", async () => {
    const browser = new HttpClient(system.baseUrl);
    const user = uniqueUser();
    await browser.post("/api/v1/auth/register", user);
    const other = new HttpClient(system.baseUrl);
    const wrongPassword = await other.post("/api/v1/auth/login", { login: user.username, password: "not the password at all" });
    const unknownUser = await other.post("/api/v1/auth/login", { login: "nobody_here_at_all", password: "not the password at all" });
    expect(wrongPassword.status).toBe(401);
    expect(unknownUser.status).toBe(401);
    const [a, b] = [await problemOf(wrongPassword), await problemOf(unknownUser)];
    expect({ ...a, instance: undefined }).toEqual({ ...b, instance: undefined });
  });

  it("refuses state-changing requests without the CSRF token or a same-origin Origin", async () => {
    const browser = new HttpClient(system.baseUrl);
    const user = uniqueUser();
    expect((await browser.post("/api/v1/auth/register", user)).status).toBe(201);
    const noToken = await browser.request("POST", "/api/v1/auth/logout", { csrf: false, headers: { origin: new URL(system.baseUrl).origin } });
    expect(noToken.status).toBe(403);
    expect((await problemOf(noToken)).type).toMatch(/csrf_failed$/);
    const token = await browser.fetchCsrf();
    const foreignOrigin = await browser.request("POST", "/api/v1/auth/logout", { csrf: false, headers: { origin: "https://evil.example", "x-csrf-token": token } });
    expect(foreignOrigin.status).toBe(403);
    expect((await browser.get("/api/v1/me")).status).toBe(200);
  });

  it("serves the OpenAPI document and the web app", async () => {
    const openapi = await fetch(`${system.baseUrl}/api/v1/openapi.json`);
    expect(openapi.status).toBe(200);
    const document = (await openapi.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(["/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/me", "/api/v1/auth/logout"]));
    const page = await fetch(`${system.baseUrl}/login`, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    const unknownApi = await fetch(`${system.baseUrl}/api/v1/nope`);
    expect(unknownApi.status).toBe(404);
    await problemOf(unknownApi);
  });
});

describe("operations", () => {
  it("reports a stopped service in /readyz and recovers when it is back", async () => {
    const ready = await fetch(`${system.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { identity: "up", session: "up", redis: "up" } });
    for (const service of ["identity", "session", "chat", "quota", "admin"] as const) {
      const probe = await fetch(`http://127.0.0.1:${system.ports[service].probe}/readyz`);
      expect(probe.status, service).toBe(200);
    }

    const signedIn = new HttpClient(system.baseUrl);
    expect((await signedIn.post("/api/v1/auth/register", uniqueUser())).status).toBe(201);

    expect(await system.stop("session")).toBe(0);
    const down = await fetch(`${system.baseUrl}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: "unavailable", checks: { session: "down", identity: "up" } });

    await system.start("session");
    let recovered: Response | undefined;
    for (let attempt = 0; attempt < 40; attempt += 1) {
      recovered = await fetch(`${system.baseUrl}/readyz`);
      if (recovered.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(recovered?.status).toBe(200);
    // Signing in works again without restarting anything else, and nobody was signed out.
    const browser = new HttpClient(system.baseUrl);
    expect((await browser.post("/api/v1/auth/register", uniqueUser())).status).toBe(201);
    expect((await signedIn.get("/api/v1/me")).status).toBe(200);

    // Browser sessions live in Redis, not in the BFF process: a BFF restart keeps everyone signed in.
    expect(await system.stop("bff")).toBe(0);
    await system.start("bff");
    expect((await signedIn.get("/api/v1/me")).status).toBe(200);
    expect((await signedIn.post("/api/v1/auth/logout")).status).toBe(204);
  });

  it("exits non-zero naming the variable when MONGO_URL is malformed", async () => {
    const infrastructure = testInfrastructure("badenv");
    const run = (service: string) =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(new URL("../../node_modules/.bin/node", import.meta.url).pathname, [`services/${service}/src/main.ts`], {
          cwd: new URL("../../", import.meta.url).pathname,
          env: { ...process.env, MONGO_URL: "not a url", REDIS_URL: infrastructure.redisUrl, AMQP_URL: infrastructure.amqpUrl, INTERNAL_GRPC_TOKEN: "0123456789abcdef0123", SECRETS_KEYRING: `k1:${Buffer.alloc(32, 1).toString("base64")}` },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        child.stdout.on("data", (chunk) => (output += chunk));
        child.stderr.on("data", (chunk) => (output += chunk));
        child.on("exit", (code) => resolve({ code, output }));
      });
    for (const service of ["identity", "session", "chat", "quota", "admin"]) {
      const result = await run(service);
      expect(result.code, service).not.toBe(0);
      expect(result.output, service).toMatch(/MONGO_URL/);
      expect(result.output, service).not.toMatch(/\n\s+at /);
    }
  });

  it("never writes passwords, tokens or cookies to the logs", () => {
    const text = system.logs.join("\n");
    expect(text).not.toMatch(/purple monkey dishwasher/);
    expect(text).not.toMatch(/tessera_session=/);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}/);
  });
});
