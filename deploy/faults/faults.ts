// Fault injection: restarts each server the system stands on (RabbitMQ, Redis, FerretDB,
// PostgreSQL) while clients keep using it, and checks what they were told and what was counted.
//   npm run faults          (about 3 minutes after the first run; the first builds nothing new
//                            but initialises its own PostgreSQL and RabbitMQ)
//   FAULTS_CLIENTS          concurrent clients (default 6)
//   FAULTS_ONLY=redis,...   restart only these
//   FAULTS_DOWN_MS          how long each server stays stopped (default 3000)
// The servers are a private set (infra.sh with its own data folder and ports under
// .data/faults), so restarting them disturbs nothing else on the machine. Every answer must be
// either served whole or refused the documented way: 503 (or 429) with Retry-After, in OpenAI's
// error format on /v1 and as a problem elsewhere; never another 5xx, a reset connection, a stream
// cut without its error event, or a hang. Afterwards every served answer must be counted exactly
// once, in the live counters (GET /api/v1/quota) and in the daily rollups (GET /api/v1/me/usage).
// Exits non-zero otherwise.
import { spawn } from "node:child_process";
import { existsSync, linkSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { startSystem } from "@tessera/platform/launcher";
import { expectStatus, loadUser, testSecrets, type HttpClient } from "@tessera/platform/testing";
import { startDemoUpstream } from "../../services/chat/src/demo-upstream/demo-upstream.ts";

const root = new URL("../..", import.meta.url).pathname;
const SERVERS = ["rabbitmq", "redis", "ferretdb", "postgres"] as const;
const only = process.env.FAULTS_ONLY?.split(",").filter(Boolean);
const faults = SERVERS.filter((server) => !only || only.includes(server));
const clients = Number(process.env.FAULTS_CLIENTS ?? 6);
const downMs = Number(process.env.FAULTS_DOWN_MS ?? 3_000);
const REQUEST_TIMEOUT_MS = 30_000;

// Its own servers: other data folder, other ports (infra.sh reads these).
const infraEnv = {
  ...process.env,
  TESSERA_DATA_DIR: join(root, ".data/faults"),
  TESSERA_REDIS_PORT: "6393",
  TESSERA_AMQP_PORT: "5685",
  TESSERA_AMQP_DIST_PORT: "25685",
  TESSERA_PG_PORT: "5445",
  TESSERA_MONGO_PORT: "27030",
};
function infra(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [join(root, "deploy/local/infra.sh"), ...args], { env: infraEnv, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (data: Buffer) => (out += data.toString()));
    child.stderr.on("data", (data: Buffer) => (err += data.toString()));
    child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`infra.sh ${args.join(" ")} failed (${code}): ${err}`))));
  });
}

// The FerretDB binary the shared infrastructure built serves here too (same source, same mtime).
const ferretdb = join(infraEnv.TESSERA_DATA_DIR, "bin/ferretdb");
if (!existsSync(ferretdb) && existsSync(join(root, ".data/bin/ferretdb"))) {
  mkdirSync(join(infraEnv.TESSERA_DATA_DIR, "bin"), { recursive: true });
  linkSync(join(root, ".data/bin/ferretdb"), ferretdb);
}
console.log("[faults] starting a private Redis, RabbitMQ, PostgreSQL and FerretDB under .data/faults");
const urls = Object.fromEntries([...(await infra("up")).matchAll(/export (\w+)=(\S+)/g)].map((match) => [match[1]!, match[2]!])) as Record<
  "MONGO_URL" | "REDIS_URL" | "AMQP_URL",
  string
>;

const upstream = await startDemoUpstream({ tokenDelayMs: 5 });
const admin = { email: "faults-admin@example.com", username: "faultsadmin", password: "restarting all day long" };
const run = `faults${Date.now().toString(36)}`;
const mongo = new URL(urls.MONGO_URL);
mongo.pathname = `/${run}`;
const system = await startSystem({
  randomPorts: true,
  env: {
    MONGO_URL: mongo.toString(),
    REDIS_URL: urls.REDIS_URL,
    AMQP_URL: urls.AMQP_URL,
    REDIS_KEY_PREFIX: `${run}:`,
    AMQP_NAME_PREFIX: `${run}.`,
    LOG_LEVEL: "warn",
    ...testSecrets(),
    DEFAULT_LLM_BASE_URL: upstream.url,
    UPSTREAM_ALLOWED_HOSTS: "127.0.0.1",
    DEFAULT_LLM_API_KEYS: "faults-1",
    DEFAULT_LLM_MODELS: "demo-echo",
    FIRST_ADMIN_EMAIL: admin.email,
    FIRST_ADMIN_USERNAME: admin.username,
    FIRST_ADMIN_PASSWORD: admin.password,
  },
  onOutput: (service, line) => {
    if (process.env.FAULTS_VERBOSE) process.stdout.write(`${service} | ${line}\n`);
  },
});

type Kind = "v1" | "v1-stream" | "web" | "me";
type Outcome = "served" | "refused" | "failed";
interface Result {
  kind: Kind;
  outcome: Outcome;
  /** Tokens of a served answer. */
  tokens: number;
  detail?: string;
  ms?: number;
}

const withTimeout = <T>(work: Promise<T>, what: string): Promise<T> =>
  Promise.race([
    work,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer to ${what} within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS)),
  ]);

/** A refusal the way the contract has it: 503/429 with Retry-After, in the route's error format. */
async function refusal(kind: Kind, response: Response): Promise<Result> {
  const text = await response.text();
  const retryAfter = Number(response.headers.get("retry-after"));
  let body: { error?: { message?: string }; type?: string; status?: number } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // judged below
  }
  const wellFormed = kind.startsWith("v1") ? typeof body.error?.message === "string" : typeof body.type === "string" && body.status === response.status;
  if ((response.status === 503 || response.status === 429) && retryAfter > 0 && wellFormed) return { kind, outcome: "refused", tokens: 0 };
  return { kind, outcome: "failed", tokens: 0, detail: `${response.status} retry-after=${response.headers.get("retry-after")} ${text.slice(0, 160)}` };
}

/** The data lines of an event stream, with their event names. */
function* events(text: string): Generator<{ event: string; data: string }> {
  for (const block of text.split("\n\n")) {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    }
    if (data.length > 0) yield { event, data: data.join("\n") };
  }
}

async function once(kind: Kind, browser: HttpClient, key: string, chatId: string, n: number): Promise<Result> {
  if (kind === "me") {
    const response = await browser.get("/api/v1/me");
    if (response.status === 200) return (await response.arrayBuffer(), { kind, outcome: "served", tokens: 0 });
    return refusal(kind, response);
  }
  if (kind === "web") {
    const response = await browser.post(`/api/v1/chats/${chatId}/messages`, { content: `[words=12] fault ${n}`, clientMessageId: `fault-${n}` });
    if (response.status !== 200) return refusal(kind, response);
    const text = await response.text();
    for (const { event, data } of events(text)) {
      if (event === "done") return { kind, outcome: "served", tokens: (JSON.parse(data) as { usage: { totalTokens: number } }).usage.totalTokens };
      if (event === "error") return { kind, outcome: "refused", tokens: 0, detail: `stream error event: ${data.slice(0, 120)}` };
    }
    return { kind, outcome: "failed", tokens: 0, detail: `stream cut without done or error: …${text.slice(-120)}` };
  }
  const stream = kind === "v1-stream";
  const response = await fetch(`${system.baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({
      model: "demo-echo",
      messages: [{ role: "user", content: `[words=12] fault ${n}` }],
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
    }),
  });
  if (response.status !== 200) return refusal(kind, response);
  const text = await response.text();
  if (!stream) return { kind, outcome: "served", tokens: (JSON.parse(text) as { usage: { total_tokens: number } }).usage.total_tokens };
  let tokens: number | undefined;
  for (const { data } of events(text)) {
    if (data === "[DONE]") return tokens === undefined ? { kind, outcome: "failed", tokens: 0, detail: "no usage chunk" } : { kind, outcome: "served", tokens };
    const chunk = JSON.parse(data) as { usage?: { total_tokens: number } | null; error?: unknown };
    if (chunk.error) return { kind, outcome: "refused", tokens: 0, detail: `stream error object: ${data.slice(0, 120)}` };
    if (chunk.usage) tokens = chunk.usage.total_tokens;
  }
  return { kind, outcome: "failed", tokens: 0, detail: `stream cut without [DONE] or error: …${text.slice(-120)}` };
}

let exitCode = 0;
try {
  const { browser, key } = await loadUser(system.baseUrl, {
    email: "faults@example.com",
    username: "faultsuser",
    admin,
    limits: { maxMessagesPerDay: 1_000_000, maxTokensPerDay: 1_000_000_000, maxChats: 1_000 },
    keyName: "faults",
  });
  const chats: string[] = [];
  for (let client = 0; client < clients; client += 1)
    chats.push(((await (await expectStatus(await browser.post("/api/v1/chats", {}), 201, "chat")).json()) as { chat: { id: string } }).chat.id);

  // Clients loop over the kinds of request until told to stop; results are filed under the fault in progress.
  const KINDS: Kind[] = ["v1", "v1-stream", "web", "me"];
  const results = new Map<string, Result[]>();
  let phase = "warm-up";
  let running = true;
  let sent = 0;
  const loops = chats.map(async (chatId, client) => {
    for (let turn = client; running; turn += 1) {
      const kind = KINDS[turn % KINDS.length]!;
      const n = (sent += 1);
      const filed = phase;
      const started = performance.now();
      const result: Result = await withTimeout(once(kind, browser, key, chatId, n), `${kind} #${n}`).catch((error: unknown) => ({
        kind,
        outcome: "failed" as const,
        tokens: 0,
        detail: String(error),
      }));
      result.ms = performance.now() - started;
      (results.get(filed) ?? results.set(filed, []).get(filed)!).push(result);
      if (result.outcome === "refused") await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  await sleep(3_000);
  const downtimes: Record<string, number> = {};
  for (const server of faults) {
    phase = `restart ${server}`;
    await sleep(2_000);
    const started = performance.now();
    await infra("stop-one", server);
    // Down long enough that every client meets the outage, not only the requests of one instant.
    await sleep(downMs);
    await infra("start-one", server);
    downtimes[server] = performance.now() - started;
    // Clients see the server back, and whatever waited for it (outboxes, reconnects) catches up.
    await sleep(10_000);
  }
  running = false;
  await Promise.all(loops);

  console.log(`\nFault injection: ${clients} clients, /v1 (stream and not), web chat sends and /api/v1/me in turn`);
  let served = { messages: 0, tokens: 0 };
  for (const [name, list] of results) {
    const count = (outcome: Outcome) => list.filter((result) => result.outcome === outcome).length;
    const server = name.replace("restart ", "");
    const down = downtimes[server] === undefined ? "" : ` (stopped and started again in ${(downtimes[server] / 1000).toFixed(1)} s)`;
    const times = list.map((result) => result.ms ?? 0).sort((a, b) => a - b);
    const at = (q: number) => `${Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0)}`;
    console.log(
      `  ${name.padEnd(18)} served ${String(count("served")).padStart(5)}, refused with Retry-After ${String(count("refused")).padStart(4)}, failed ${count("failed")}; ms p50 ${at(0.5)}, p99 ${at(0.99)}, max ${at(1)}${down}`,
    );
    const failures = new Map(list.filter((result) => result.outcome === "failed").map((result) => [`${result.kind}: ${result.detail}`, 0]));
    for (const result of list)
      if (result.outcome === "failed") failures.set(`${result.kind}: ${result.detail}`, failures.get(`${result.kind}: ${result.detail}`)! + 1);
    for (const [failure, times] of failures) console.log(`      ${times}× ${failure}`);
    const midStream = list.filter((result) => result.detail?.startsWith("stream error"));
    if (midStream.length > 0)
      console.log(`      of the refused, ${midStream.length} ended mid-stream with their error event, e.g. ${midStream[0]!.kind}: ${midStream[0]!.detail}`);
    if (count("failed") > 0) exitCode = 1;
    for (const result of list)
      if (result.outcome === "served" && result.kind !== "me") served = { messages: served.messages + 1, tokens: served.tokens + result.tokens };
  }

  // Exactly once: what was served is what is counted, live and in the rollups, once usage settled.
  const midStreamAnswers = [...results.values()].flat().filter((result) => result.detail?.startsWith("stream error")).length;
  const today = new Date().toISOString().slice(0, 10);
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  let live = { messages: -1, tokens: -1 };
  let rolled = { messages: -1, tokens: -1 };
  for (let attempt = 0; attempt < 60; attempt += 1) {
    const quota = (await (await browser.get("/api/v1/quota")).json()) as { messages: { used: number }; tokens: { used: number } };
    live = { messages: quota.messages.used, tokens: quota.tokens.used };
    const usage = (await (await browser.get(`/api/v1/me/usage?from=${yesterday}&to=${today}`)).json()) as { days: Array<{ messages: number; tokens: number }> };
    rolled = usage.days.reduce((sum, day) => ({ messages: sum.messages + day.messages, tokens: sum.tokens + day.tokens }), { messages: 0, tokens: 0 });
    if (
      midStreamAnswers === 0 &&
      live.messages === served.messages &&
      live.tokens === served.tokens &&
      rolled.messages === served.messages &&
      rolled.tokens === served.tokens
    )
      break;
    await sleep(1_000);
  }
  console.log(
    `  served answers ${served.messages} with ${served.tokens} tokens; counted live ${live.messages} / ${live.tokens}, in the daily rollups ${rolled.messages} / ${rolled.tokens}`,
  );
  if (midStreamAnswers > 0) {
    // An answer cut mid-stream is charged for what it produced, which the client does not learn: only a bound holds.
    const bound = live.messages >= served.messages && live.messages <= served.messages + midStreamAnswers && live.tokens >= served.tokens;
    console.log(`  ${midStreamAnswers} answers ended mid-stream: counted ${bound ? "within" : "OUTSIDE"} the bounds (served ≤ counted ≤ served + cut)`);
    if (!bound || rolled.messages !== live.messages || rolled.tokens !== live.tokens) exitCode = 1;
  } else if (live.messages !== served.messages || live.tokens !== served.tokens || rolled.messages !== served.messages || rolled.tokens !== served.tokens) {
    console.log("  COUNTED DIFFERENTLY from what was served");
    exitCode = 1;
  }
  console.log(exitCode === 0 ? "\nfaults: every answer served whole or refused the documented way, and counted exactly once" : "\nfaults: FAILED");
} finally {
  await system.stopAll();
  await upstream.close();
  await infra("down").catch((error: unknown) => console.error(String(error)));
}
process.exit(exitCode);
