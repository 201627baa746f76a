import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient, startTestSystem, type TestSystem } from "@tessera/platform/testing";
import { startDemoUpstream, type DemoUpstream } from "../../services/chat/src/demo-upstream/demo-upstream.ts";

// Authentication once at the edge, from caches kept exact by the invalidation bus: a change made
// through one process (identity, session) applies on the very next request served by the others
// (BFF, chat, quota), with no waiting in between.
let system: TestSystem;
let upstream: DemoUpstream;
const admin = { email: "edge-admin@example.com", username: "edgeadmin", password: "administering the edge" };

beforeAll(async () => {
  upstream = await startDemoUpstream({ tokenDelayMs: 0 });
  system = await startTestSystem({
    DEFAULT_LLM_BASE_URL: upstream.url,
    DEFAULT_LLM_API_KEYS: "good",
    DEFAULT_LLM_MODELS: "demo-echo",
    FIRST_ADMIN_EMAIL: admin.email,
    FIRST_ADMIN_USERNAME: admin.username,
    FIRST_ADMIN_PASSWORD: admin.password,
  });
});

afterAll(async () => {
  await system?.stopAll();
  await upstream?.close();
});

let counter = 0;
const json = async <T = any>(response: Response): Promise<T> => (await response.json()) as T;
const asAdmin = async () => {
  const browser = new HttpClient(system.baseUrl);
  expect((await browser.post("/api/v1/auth/login", { login: admin.username, password: admin.password })).status).toBe(200);
  return browser;
};
const member = async () => {
  counter += 1;
  const suffix = `${Date.now().toString(36)}${counter}`;
  const browser = new HttpClient(system.baseUrl);
  const response = await browser.post("/api/v1/auth/register", { email: `edge${suffix}@example.com`, username: `edge${suffix}`, password: "a perfectly fine passphrase" });
  expect(response.status).toBe(201);
  const key = (await json(await browser.post("/api/v1/me/api-keys", { name: "edge" }))) as { id: string; key: string };
  return { browser, id: (await json(response)).user.id as string, key };
};
const complete = (key: string) =>
  fetch(`${system.baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "demo-echo", messages: [{ role: "user", content: "[words=3]" }] }),
  });

describe("one check at the edge, exact on the very next request", () => {
  it("answers an unknown key 401 in OpenAI's format at once", async () => {
    const response = await complete("tsk_unknown_0000000000000000000000000");
    expect(response.status).toBe(401);
    expect((await json(response)).error).toMatchObject({ type: "invalid_request_error", code: "invalid_api_key" });
  });

  it("refuses a revoked key on the very next request", async () => {
    const { browser, key } = await member();
    expect((await complete(key.key)).status).toBe(200);
    expect((await browser.delete(`/api/v1/me/api-keys/${key.id}`)).status).toBe(204);
    const response = await complete(key.key);
    expect(response.status).toBe(401);
    expect((await json(response)).error.code).toBe("invalid_api_key");
  });

  it("refuses a disabled user's key and session on the very next request", async () => {
    const { browser, id, key } = await member();
    expect((await complete(key.key)).status).toBe(200);
    expect((await browser.get("/api/v1/me")).status).toBe(200);
    expect((await (await asAdmin()).patch(`/api/v1/admin/users/${id}`, { status: "disabled" })).status).toBe(200);
    expect((await complete(key.key)).status).toBe(401);
    expect((await browser.get("/api/v1/me")).status).toBe(401);
  });

  it("applies a changed limit on the very next request", async () => {
    const { id, key } = await member();
    const root = await asAdmin();
    expect((await root.patch(`/api/v1/admin/users/${id}`, { maxMessagesPerDay: 1 })).status).toBe(200);
    expect((await complete(key.key)).status).toBe(200);
    const refused = await complete(key.key);
    expect(refused.status).toBe(429);
    expect((await json(refused)).error.code).toBe("insufficient_quota");
    expect((await root.patch(`/api/v1/admin/users/${id}`, { maxMessagesPerDay: 5 })).status).toBe(200);
    expect((await complete(key.key)).status).toBe(200);
  });

  it("demotes and promotes on the very next request, in the browser the user is signed in with", async () => {
    const { browser, id } = await member();
    const root = await asAdmin();
    expect((await browser.get("/api/v1/admin/users")).status).toBe(403);
    expect((await root.patch(`/api/v1/admin/users/${id}`, { role: "admin" })).status).toBe(200);
    expect((await browser.get("/api/v1/admin/users")).status).toBe(200);
    expect((await root.patch(`/api/v1/admin/users/${id}`, { role: "user" })).status).toBe(200);
    expect((await browser.get("/api/v1/admin/users")).status).toBe(403);
  });

  it("signs a revoked session out on the very next request", async () => {
    const { browser } = await member();
    const other = new HttpClient(system.baseUrl);
    const me = await json(await browser.get("/api/v1/me"));
    expect((await other.post("/api/v1/auth/login", { login: me.username, password: "a perfectly fine passphrase" })).status).toBe(200);
    const sessions = (await json(await browser.get("/api/v1/me/sessions"))) as Array<{ id: string; current: boolean }>;
    const theOther = sessions.find((session) => !session.current)!;
    expect((await browser.delete(`/api/v1/me/sessions/${theOther.id}`)).status).toBe(204);
    expect((await other.get("/api/v1/me")).status).toBe(401);
  });
});
