// Benchmark: what the OpenAI-compatible API (/v1/chat/completions through the BFF, chat service,
// quota and the usage outbox) adds over calling the local upstream directly, at a steady request
// rate, streaming and not; and the time to the first token of a web chat message.
//
// Needs MONGO_URL, REDIS_URL and AMQP_URL (eval "$(bash deploy/local/infra.sh env)") and starts the
// whole system on free ports with its own database. Run: npm run bench -w services/chat
// Options (environment): BENCH_RATE (requests/s, default 20), BENCH_SECONDS (default 10),
// BENCH_WORDS (answer length, default 20), BENCH_CHAT_MESSAGES (default 40), BENCH_CONNECTIONS (the
// load generator's, default 512), BENCH_PORTKEY=1 to
// race Portkey's open-source gateway (npm @portkey-ai/gateway, installed into .data/portkey on
// first use) against the same upstream in the same run, as the reference.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { expectStatus, loadUser, testSecrets } from "@tessera/platform/testing";
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { percentile } from "@tessera/platform";
import { processCpu, startSystem } from "@tessera/platform/launcher";
import { Agent } from "undici";
import { parseSse, parseSseBatches } from "../src/adapters/upstream/sse.ts";

const rate = Number(process.env.BENCH_RATE ?? 20);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const words = Number(process.env.BENCH_WORDS ?? 20);
const chatMessages = Number(process.env.BENCH_CHAT_MESSAGES ?? 40);
for (const name of ["MONGO_URL", "REDIS_URL", "AMQP_URL"]) {
  if (!process.env[name]) {
    process.stderr.write(`${name} is not set: eval "$(bash deploy/local/infra.sh env)" first\n`);
    process.exit(2);
  }
}

/**
 * The demo upstream in a process of its own, as a real upstream would be: its work does not
 * share the load generator's event loop, which would delay the timings of every path alike.
 */
async function startUpstreamProcess(): Promise<{ url: string; close(): Promise<void> }> {
  const port = 30_000 + Math.floor(Math.random() * 10_000);
  const child = spawn(process.execPath, [fileURLToPath(new URL("../src/demo-upstream/main.ts", import.meta.url))], {
    env: { ...process.env, DEMO_LLM_PORT: String(port), DEMO_LLM_TOKEN_DELAY_MS: "0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the demo upstream exited (${code})`)));
    child.stdout!.on("data", (data: Buffer) => data.toString().includes("listening") && resolve());
  });
  return {
    url: `http://127.0.0.1:${port}/v1`,
    close: () => new Promise<void>((resolve) => (child.once("exit", () => resolve()), child.kill("SIGTERM"))),
  };
}
const upstream = await startUpstreamProcess();

/** A completion refused at the bound on completions in flight (503 `overloaded`). */
class Refused extends Error {
  readonly ms: number;
  readonly retryAfter: string | string[] | undefined;
  constructor(ms: number, retryAfter: string | string[] | undefined) {
    super("refused at the bound");
    this.ms = ms;
    this.retryAfter = retryAfter;
  }
}
// The load generator's HTTP client: undici's request API on keep-alive connections (fetch's WHATWG
// streams cost it more CPU than the gateway under test spends).
// Its connections (BENCH_CONNECTIONS, default 512) bound what it has in flight: past them requests
// wait in the client, and that wait is part of their times.
const client = new Agent({ connections: Number(process.env.BENCH_CONNECTIONS ?? 512), pipelining: 1, keepAliveTimeout: 30_000 });

/** CPU ms used so far by the local servers (FerretDB, PostgreSQL, Redis, RabbitMQ), by name (Linux /proc). */
async function infrastructureCpuMs(): Promise<Record<string, number>> {
  const names: Record<string, string> = { ferretdb: "FerretDB", postgres: "PostgreSQL", "redis-server": "Redis", "beam.smp": "RabbitMQ" };
  const totals: Record<string, number> = {};
  for (const pid of (await readdir("/proc").catch(() => [])).filter((entry) => /^\d+$/.test(entry))) {
    const usage = await processCpu(pid);
    const name = usage && names[usage.name];
    if (name) totals[name] = (totals[name] ?? 0) + usage.cpuMs;
  }
  return totals;
}

const PORTKEY_VERSION = "1.15.2";
/** Portkey's gateway on a free port, proxying to the demo upstream (its `x-portkey-custom-host`). */
async function startPortkey(): Promise<{ url: string; headers: Record<string, string>; process: ChildProcess }> {
  const prefix = fileURLToPath(new URL("../../../.data/portkey", import.meta.url));
  const entry = `${prefix}/node_modules/@portkey-ai/gateway/build/start-server.js`;
  if (!existsSync(entry)) {
    process.stdout.write(`installing @portkey-ai/gateway@${PORTKEY_VERSION} into .data/portkey\n`);
    const installed = spawnSync("npm", ["install", "--prefix", prefix, "--no-audit", "--no-fund", `@portkey-ai/gateway@${PORTKEY_VERSION}`], { stdio: "inherit" });
    if (installed.status !== 0) throw new Error("could not install @portkey-ai/gateway");
  }
  const port = 20_000 + Math.floor(Math.random() * 10_000);
  const child = spawn(process.execPath, [entry, `--port=${port}`, "--headless"], { stdio: "ignore" });
  const url = `http://127.0.0.1:${port}/v1`;
  for (let attempt = 0; ; attempt += 1) {
    const ready = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false,
    );
    if (ready) break;
    if (attempt > 100) throw new Error("Portkey did not start");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, headers: { "x-portkey-provider": "openai", "x-portkey-custom-host": upstream.url }, process: child };
}
const portkey = process.env.BENCH_PORTKEY ? await startPortkey() : undefined;
const name = `bench_${Date.now().toString(36)}`;
const mongo = new URL(process.env.MONGO_URL!);
mongo.pathname = `/${name}`;
const admin = { email: "bench-admin@example.com", username: "benchadmin", password: "benchmarking all day" };
const system = await startSystem({
  randomPorts: true,
  env: {
    MONGO_URL: mongo.toString(),
    REDIS_URL: process.env.REDIS_URL,
    AMQP_URL: process.env.AMQP_URL,
    REDIS_KEY_PREFIX: `${name}:`,
    AMQP_NAME_PREFIX: `${name}.`,
    LOG_LEVEL: "warn",
    ...testSecrets(),
    DEFAULT_LLM_BASE_URL: upstream.url,
    // The bench's upstream is on loopback, which must be allowed explicitly.
    UPSTREAM_ALLOWED_HOSTS: "127.0.0.1",
    DEFAULT_LLM_API_KEYS: "bench-1,bench-2",
    DEFAULT_LLM_MODELS: "demo-echo",
    FIRST_ADMIN_EMAIL: admin.email,
    FIRST_ADMIN_USERNAME: admin.username,
    FIRST_ADMIN_PASSWORD: admin.password,
  },
  onOutput: (service, line) => {
    if (process.env.BENCH_VERBOSE) process.stdout.write(`${service} | ${line}\n`);
  },
});

try {
  // A user with a large allowance and an API key.
  const { browser, key } = await loadUser(system.baseUrl, {
    email: "bench@example.com",
    username: "benchuser",
    admin,
    limits: { maxMessagesPerDay: 1_000_000, maxTokensPerDay: 1_000_000_000 },
    keyName: "bench",
  });

  const body = (stream: boolean) =>
    JSON.stringify({
      model: "demo-echo",
      messages: [{ role: "user", content: `[words=${words}]` }],
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
    });
  /** One request; resolves with [time to first content, total] in ms. */
  const once = async (base: string, auth: string, stream: boolean, headers: Record<string, string> = {}): Promise<[number, number]> => {
    const started = performance.now();
    const url = new URL(`${base}/chat/completions`);
    const response = await client.request({
      origin: url.origin,
      path: url.pathname,
      method: "POST",
      headers: { authorization: `Bearer ${auth}`, "content-type": "application/json", ...headers },
      body: body(stream),
    });
    if (response.statusCode !== 200) {
      const text = await response.body.text();
      // Refused at a bound (BFF_MAX_COMPLETIONS_IN_FLIGHT, CHAT_MAX_COMPLETIONS_IN_FLIGHT): counted and timed apart.
      if (response.statusCode === 503 && text.includes('"overloaded"')) throw new Refused(performance.now() - started, response.headers["retry-after"]);
      throw new Error(`completion: ${response.statusCode} ${text}`);
    }
    if (!stream) {
      await response.body.json();
      const total = performance.now() - started;
      return [total, total];
    }
    let first = 0;
    for await (const batch of parseSseBatches(response.body)) {
      if (!first && batch.some((event) => event.data.includes('"content":"w'))) first = performance.now() - started;
    }
    return [first, performance.now() - started];
  };
  /** Open-loop load: requests start on schedule whatever the latency; failures are counted, not timed. */
  let failures = 0;
  // Refusals at the bound: how many per phase and how fast they were answered.
  let refusals: number[] = [];
  const steady = async (base: string, auth: string, stream: boolean, headers: Record<string, string> = {}) => {
    const count = Math.round(rate * seconds);
    const results: Array<Promise<[number, number] | null>> = [];
    const start = performance.now();
    for (let index = 0; index < count; index += 1) {
      const due = start + (index * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      results.push(
        once(base, auth, stream, headers).catch((error: unknown) => {
          if (error instanceof Refused) {
            refusals.push(error.ms);
            if (error.retryAfter !== "1") process.stderr.write(`refused without Retry-After: 1 (${String(error.retryAfter)})\n`);
            return null;
          }
          failures += 1;
          if (failures <= 6) {
            const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
            process.stderr.write(`${stream ? "stream" : "non-stream"} request to ${base} failed: ${(error as Error).message.slice(0, 200)}${cause ? ` (${cause.code ?? ""} ${cause.message ?? ""})` : ""}\n`);
          }
          return null;
        }),
      );
    }
    return (await Promise.all(results)).filter((result): result is [number, number] => result !== null);
  };
  const row = (label: string, values: number[]) =>
    `${label.padEnd(44)} p50 ${percentile(values, 50).toFixed(1).padStart(7)} ms   p99 ${percentile(values, 99).toFixed(1).padStart(7)} ms`;

  // Warm every path (connections, JIT, caches).
  for (let index = 0; index < 20; index += 1) {
    await once(upstream.url, "bench-1", false);
    await once(`${system.baseUrl}/v1`, key, index % 2 === 0);
    if (portkey) await once(portkey.url, "bench-1", false, portkey.headers);
  }
  // Portkey 1.15.2 answers every streamed request to an OpenAI-compatible custom host with 500
  // ("TypeError: immutable" in its updateHeaders, on Node 20 and 24): it is raced only where it answers.
  const portkeyStreams = portkey ? await once(portkey.url, "bench-1", true, portkey.headers).then(() => true, () => false) : false;

  const rssIdle = await system.rssMb();
  const lines = [`OpenAI-compatible overhead at ${rate} req/s for ${seconds} s, ${words}-word answers (demo upstream, no token delay):`];
  const totals = (results: Array<[number, number]>) => results.map((result) => result[1]);
  const added = (label: string, via: number[], direct: number[]) =>
    `  ${label}: added at p50 ${(percentile(via, 50) - percentile(direct, 50)).toFixed(1)} ms, at p99 ${(percentile(via, 99) - percentile(direct, 99)).toFixed(1)} ms`;
  let phases = 0;
  for (const stream of [false, true]) {
    const kind = stream ? "stream" : "non-stream";
    const direct = await steady(upstream.url, "bench-1", stream);
    const cpuBefore = await system.cpuMs();
    refusals = [];
    const via = await steady(`${system.baseUrl}/v1`, key, stream);
    const cpuAfter = await system.cpuMs();
    const shed = refusals;
    refusals = [];
    const peer = portkey && (!stream || portkeyStreams) ? await steady(portkey.url, "bench-1", stream, portkey.headers) : undefined;
    if (portkey && !peer) lines.push(`  ${kind}: Portkey not raced: it answered a streamed request with an error`);
    phases += peer ? 3 : 2;
    lines.push(row(`  ${kind}: upstream directly (total)`, totals(direct)));
    lines.push(row(`  ${kind}: through /v1 (total)`, totals(via)));
    if (peer) lines.push(row(`  ${kind}: through Portkey (total)`, totals(peer)));
    if (stream) {
      lines.push(row(`  ${kind}: upstream directly (first token)`, direct.map((result) => result[0])));
      lines.push(row(`  ${kind}: through /v1 (first token)`, via.map((result) => result[0])));
      if (peer) lines.push(row(`  ${kind}: through Portkey (first token)`, peer.map((result) => result[0])));
    }
    lines.push(added(`${kind} /v1`, totals(via), totals(direct)));
    lines.push(
      shed.length === 0
        ? `  ${kind} /v1: none refused at the bound (503 overloaded)`
        : `${row(`  ${kind} /v1: ${shed.length} refused (503 overloaded), in`, shed)}`,
    );
    if (peer) lines.push(added(`${kind} Portkey`, totals(peer), totals(direct)));
    const perRequest = Object.entries(cpuAfter)
      .map(([service, ms]) => [service, (ms - (cpuBefore[service as keyof typeof cpuBefore] ?? 0)) / Math.max(1, via.length + shed.length)] as const)
      .filter(([, ms]) => ms > 0.05)
      .map(([service, ms]) => `${service} ${ms.toFixed(2)}`);
    lines.push(`  ${kind} /v1: CPU ms per request (answered or refused): ${perRequest.join(", ")}`);
  }
  lines.push(`  failed requests (other than refusals at the bound): ${failures} of ${Math.round(rate * seconds) * phases}`);
  const rssAfter = await system.rssMb();
  // Once the load is over the system should cost nothing: CPU over 10 idle seconds, after 5 to settle.
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const [servicesBefore, infraBefore] = [await system.cpuMs(), await infrastructureCpuMs()];
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  const [servicesAfter, infraAfter] = [await system.cpuMs(), await infrastructureCpuMs()];
  const idle = [
    ...Object.entries(servicesAfter).map(([name, ms]) => [name, ms - (servicesBefore[name as keyof typeof servicesBefore] ?? 0)] as const),
    ...Object.entries(infraAfter).map(([name, ms]) => [name, ms - (infraBefore[name] ?? 0)] as const),
  ];
  lines.push(`  idle CPU after the load (% of one core over 10 s): ${idle.map(([name, ms]) => `${name} ${(ms / 100).toFixed(1)}`).join(", ")}`);
  // Again once quiet for 15 s: what the load left pooled in V8's heap is given back only then.
  const rssSettled = await system.rssMb();
  const rssOf = (figures: typeof rssAfter, service: string) => figures[service as keyof typeof figures] ?? "?";
  lines.push(`  RSS MB idle → after the load → 15 s later: ${Object.entries(rssIdle).map(([service, mb]) => `${service} ${mb} → ${rssOf(rssAfter, service)} → ${rssOf(rssSettled, service)}`).join(", ")}`);

  // Time to first token of a web chat message (sequential sends into fresh chats, each answer 20 words).
  const firstTokens: number[] = [];
  let chatId = "";
  for (let index = 0; index < chatMessages; index += 1) {
    if (index % 8 === 0) {
      if (chatId) await expectStatus(await browser.delete(`/api/v1/chats/${chatId}`), 204, "delete chat");
      chatId = ((await (await expectStatus(await browser.post("/api/v1/chats", {}), 201, "create chat")).json()) as { chat: { id: string } }).chat.id;
    }
    const started = performance.now();
    const response = await expectStatus(
      await browser.post(`/api/v1/chats/${chatId}/messages`, { content: `[words=${words}] message ${index}`, clientMessageId: `bench-${index}` }),
      200,
      "send",
    );
    let first = 0;
    for await (const event of parseSse(response.body as unknown as AsyncIterable<Uint8Array>))
      if (!first && event.event === "delta") first = performance.now() - started;
    firstTokens.push(first);
  }
  lines.push(`Web chat (POST /api/v1/chats/:id/messages, ${chatMessages} sequential sends):`);
  lines.push(row("  time to first delta event", firstTokens));
  process.stdout.write(`\n${lines.join("\n")}\n`);
} finally {
  await system.stopAll();
  portkey?.process.kill();
  await Promise.all([upstream.close(), client.close()]);
}
