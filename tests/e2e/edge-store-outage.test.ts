import { afterAll, beforeAll, expect, it } from "vitest";
import { HttpClient, startTestSystem, testInfrastructure, type TestSystem } from "@tessera/platform/testing";
import { startDemoUpstream, type DemoUpstream } from "../../services/chat/src/demo-upstream/demo-upstream.ts";
import { startTcpProxy } from "./support/tcp-proxy.ts";

// /v1 touches no document store before it answers: after a warm-up, completions keep answering
// while every service's MongoDB connection is cut (a proxy in front of FerretDB); what needs the
// store meanwhile answers 503 with Retry-After.
let system: TestSystem;
let upstream: DemoUpstream;
let proxy: Awaited<ReturnType<typeof startTcpProxy>>;

beforeAll(async () => {
  upstream = await startDemoUpstream({ tokenDelayMs: 0 });
  const mongoUrl = new URL(testInfrastructure("e2e").mongoUrl);
  proxy = await startTcpProxy({ host: mongoUrl.hostname, port: Number(mongoUrl.port || 27017) });
  mongoUrl.hostname = "127.0.0.1";
  mongoUrl.port = String(proxy.port);
  system = await startTestSystem({ MONGO_URL: mongoUrl.toString(), DEFAULT_LLM_BASE_URL: upstream.url, DEFAULT_LLM_API_KEYS: "good", DEFAULT_LLM_MODELS: "demo-echo" });
});

afterAll(async () => {
  await proxy?.start().catch(() => undefined);
  await system?.stopAll();
  await proxy?.stop();
  await upstream?.close();
});

const complete = (key: string, stream: boolean) =>
  fetch(`${system.baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "demo-echo", messages: [{ role: "user", content: "[words=3]" }], stream }),
  });

it("keeps answering /v1 completions while the document store is unreachable", async () => {
  const browser = new HttpClient(system.baseUrl);
  expect((await browser.post("/api/v1/auth/register", { email: "outage@example.com", username: "outage", password: "a perfectly fine passphrase" })).status).toBe(201);
  const key = ((await (await browser.post("/api/v1/me/api-keys", { name: "outage" })).json()) as { key: string }).key;
  // Warm-up: the key, the user, the tenant's settings and models are now in every cache.
  expect((await complete(key, false)).status).toBe(200);
  expect((await complete(key, true)).status).toBe(200);

  await proxy.stop();
  for (const stream of [false, true, false]) {
    const response = await complete(key, stream);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("chat.completion");
  }
  // What does need the store answers 503 with Retry-After, never 500.
  const chats = await browser.get("/api/v1/chats");
  expect(chats.status).toBe(503);
  expect(chats.headers.get("retry-after")).toMatch(/^\d+$/);
  expect(((await chats.json()) as { type: string }).type).toBe("https://tessera.dev/problems/unavailable");
});
