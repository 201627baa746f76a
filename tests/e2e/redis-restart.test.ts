// Sessions survive a restart of Redis (SPEC §4): this system gets a Redis of its own (AOF on, in
// a temporary folder) so that restarting it disturbs no other test.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient, startTestSystem, type TestSystem } from "@tessera/platform/testing";
import { startDemoUpstream, type DemoUpstream } from "../../services/chat/src/demo-upstream/demo-upstream.ts";

const hasRedisServer = spawnSync("redis-server", ["--version"]).status === 0;
let system: TestSystem;
let upstream: DemoUpstream;
let redis: ChildProcess | undefined;
let port = 0;
const directory = mkdtempSync(join(tmpdir(), "tessera-redis-"));

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address() as { port: number };
      server.close(() => resolve(address.port));
    });
  });

const accepting = () =>
  new Promise<boolean>((resolve) => {
    const socket = new Socket();
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.connect(port, "127.0.0.1");
  });

async function startRedis() {
  redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", directory, "--appendonly", "yes", "--appendfsync", "always", "--save", ""], { stdio: "ignore" });
  for (let attempt = 0; attempt < 100 && !(await accepting()); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 50));
}

async function stopRedis() {
  const exited = new Promise((resolve) => redis?.once("exit", resolve));
  redis?.kill("SIGTERM");
  await exited;
}

beforeAll(async () => {
  if (!hasRedisServer) return;
  port = await freePort();
  await startRedis();
  upstream = await startDemoUpstream({ tokenDelayMs: 0 });
  system = await startTestSystem({ REDIS_URL: `redis://127.0.0.1:${port}`, DEFAULT_LLM_BASE_URL: upstream.url, DEFAULT_LLM_API_KEYS: "good", DEFAULT_LLM_MODELS: "demo-echo" });
});
afterAll(async () => {
  await system?.stopAll();
  await upstream?.close();
  if (redis && redis.exitCode === null) await stopRedis();
  rmSync(directory, { recursive: true, force: true });
});

describe.skipIf(!hasRedisServer)("a Redis restart", () => {
  it("keeps every browser signed in with all its accounts, answering 503 (not 401) while it is down", async () => {
    const browser = new HttpClient(system.baseUrl);
    const suffix = Date.now().toString(36);
    expect((await browser.post("/api/v1/auth/register", { email: `r${suffix}@example.com`, username: `r${suffix}`, password: "survives a restart" })).status).toBe(201);
    expect((await browser.post("/api/v1/auth/register", { email: `s${suffix}@example.com`, username: `s${suffix}`, password: "survives a restart" })).status).toBe(201);

    await stopRedis();
    // While Redis is down the BFF cannot read browser sessions: it says so instead of signing anyone out.
    expect((await browser.get("/api/v1/me")).status).toBe(503);
    await startRedis();

    let me: Response | undefined;
    for (let attempt = 0; attempt < 40; attempt += 1) {
      me = await browser.get("/api/v1/me");
      if (me.status !== 503) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(me?.status).toBe(200);
    expect(((await me!.json()) as { username: string }).username).toBe(`s${suffix}`);
    const accounts = (await (await browser.get("/api/v1/accounts")).json()) as unknown[];
    expect(accounts).toHaveLength(2);
    expect((await browser.post("/api/v1/auth/logout")).status).toBe(204);
    expect((await (await browser.get("/api/v1/me")).json()) as { username: string }).toMatchObject({ username: `r${suffix}` });
  });

  it("answers /v1 with a prompt 503 in OpenAI's format while it is down, and completions again once it is back", async () => {
    const browser = new HttpClient(system.baseUrl);
    const suffix = Date.now().toString(36);
    expect((await browser.post("/api/v1/auth/register", { email: `k${suffix}@example.com`, username: `k${suffix}`, password: "survives a restart" })).status).toBe(201);
    const key = ((await (await browser.post("/api/v1/me/api-keys", { name: "outage" })).json()) as { key: string }).key;
    const complete = () =>
      fetch(`${system.baseUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "demo-echo", messages: [{ role: "user", content: "[words=3]" }] }),
      });
    expect((await complete()).status).toBe(200);

    await stopRedis();
    try {
      // The quota cannot be reserved without its counters: refused at once, never let through uncounted, never a hang.
      const started = performance.now();
      const refused = await complete();
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(refused.status).toBe(503);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(((await refused.json()) as { error: { type: string } }).error.type).toBe("server_error");
    } finally {
      await startRedis();
    }
    let answered: Response | undefined;
    for (let attempt = 0; attempt < 40; attempt += 1) {
      answered = await complete();
      if (answered.status !== 503) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(answered?.status).toBe(200);
  });
});
