// Benchmark: what the whole system costs when nobody uses it, after a million stored records.
// Seeds a database of its own with ~1,000,000 records in the proportions a busy installation
// grows them (messages, chats, sessions, daily rollups, users, API keys, audit entries), starts
// every service on it, lets start-up settle and measures over a window the CPU of each service and
// of FerretDB, PostgreSQL, Redis and RabbitMQ (% of one core), the rows PostgreSQL read from this
// database's tables meanwhile, and the plan of every query the background work sends (`explain`).
//   npm run bench:idle                 (uses MONGO_URL/REDIS_URL/AMQP_URL, or deploy/local/infra.sh)
// Options (environment):
//   BENCH_RECORDS=1000000    records to seed (proportions stay the same)
//   BENCH_DB=idlebench       the database; kept between runs (seeding takes minutes)
//   BENCH_RESEED=1           drop the database and seed it again
//   BENCH_DROP=1             only drop the database and exit
//   BENCH_EMPTY=1            run on an empty database of its own (dropped afterwards), no seeding
//   BENCH_SECONDS=60         the idle window
//   BENCH_SETTLE_SECONDS=20  wait after start-up before the window
//   BENCH_BASELINE=0         skip the window with the system stopped (the servers are shared)
//   BENCH_NO_POLL_COST=1     skip timing 300 idle polls back to back (server CPU per poll)
//   BENCH_READY_TIMEOUT_SECONDS=900  how long start-up may take
//   BENCH_PG_URL             PostgreSQL under FerretDB, for table statistics (psql; default: local infra)
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { MongoClient, type Db, type Document } from "mongodb";
import { Redis } from "ioredis";
import { EVENTS_EXCHANGE } from "@tessera/platform";
import { processCpu, startSystem, type ServiceName } from "@tessera/platform/launcher";

for (const name of ["MONGO_URL", "REDIS_URL", "AMQP_URL"]) {
  if (!process.env[name]) {
    process.stderr.write(`${name} is not set: eval "$(bash deploy/local/infra.sh env)" first\n`);
    process.exit(2);
  }
}
const env = process.env;
const flag = (name: string) => env[name] === "1" || env[name] === "true";
const records = Number(env.BENCH_RECORDS ?? 1_000_000);
const windowSeconds = Number(env.BENCH_SECONDS ?? 60);
const settleSeconds = Number(env.BENCH_SETTLE_SECONDS ?? 20);
const empty = flag("BENCH_EMPTY");
const dbName = empty ? `idlebench_empty_${Date.now().toString(36)}` : (env.BENCH_DB ?? "idlebench");
const pgUrl = env.BENCH_PG_URL ?? `postgres://postgres@127.0.0.1:${env.TESSERA_PG_PORT ?? 5442}/ferretdb`;
const log = (line: string) => process.stdout.write(`${line}\n`);

const mongoUrl = new URL(env.MONGO_URL!);
mongoUrl.pathname = `/${dbName}`;
const client = await MongoClient.connect(mongoUrl.toString());
const db = client.db();

async function removeRedisKeys(keyPrefix: string): Promise<number> {
  const redis = new Redis(env.REDIS_URL!);
  let removed = 0;
  for await (const keys of redis.scanStream({ match: `${keyPrefix}:*`, count: 1_000 }) as AsyncIterable<string[]>) {
    if (keys.length > 0) removed += await redis.unlink(...keys);
  }
  redis.disconnect();
  return removed;
}

if (flag("BENCH_DROP")) {
  await db.dropDatabase();
  log(`dropped database ${dbName} and ${await removeRedisKeys(dbName)} Redis keys of it`);
  await client.close();
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Seeding: the collections that grow with history, in one installation's proportions per 1M.
// ---------------------------------------------------------------------------------------------
const TENANT = "default";
const shares = { users: 5_000, api_keys: 2_500, sessions: 40_000, chats: 50_000, messages: 800_000, quota_usage_rollups: 90_000, audit_log: 12_500 };
const counts = Object.fromEntries(Object.entries(shares).map(([name, share]) => [name, Math.max(1, Math.round((share * records) / 1_000_000))])) as Record<
  keyof typeof shares,
  number
>;
const SEED_MARKER = "idle_bench_seed";
const DAY_MS = 86_400_000;
const now = Date.now();
const hex = (prefix: number, index: number) => prefix.toString(16).padStart(8, "0") + index.toString(16).padStart(16, "0");
const userId = (index: number) => hex(0x5e000000, index);
const chatId = (index: number) => hex(0xc0000000, index);
const dayString = (time: number) => new Date(time).toISOString().slice(0, 10);
const words =
  "the of and a to in is you that it he was for on are as with his they I at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part".split(
    " ",
  );
const text = (seed: number, length: number) => {
  let result = "";
  for (let index = 0; result.length < length; index += 1) result += `${words[(seed * 7 + index * 13) % words.length]} `;
  return result.slice(0, length);
};

function* documents(collection: keyof typeof shares): Generator<Document> {
  const n = counts[collection];
  const users = counts.users;
  for (let index = 0; index < n; index += 1) {
    const owner = userId(index % users);
    const at = new Date(now - ((index * 7919) % ((90 * DAY_MS) / 1000)) * 1000);
    switch (collection) {
      case "users":
        yield {
          _id: owner,
          tenantId: TENANT,
          email: `user${index}@example.com`,
          username: `user${index}`,
          fullName: `User ${index}`,
          avatarUrl: "",
          role: "user",
          status: "active",
          trustLevel: 0,
          premiumUntil: null,
          // argon2id hashes have this length; nobody signs in during the bench.
          passwordHash: `$argon2id$v=19$m=19456,t=2,p=1$${randomBytes(16).toString("base64")}$${randomBytes(32).toString("base64")}`,
          maxMessagesPerDay: null,
          maxTokensPerDay: null,
          maxChats: 100,
          platformRole: null,
          createdAt: at,
          updatedAt: at,
        };
        break;
      case "api_keys":
        yield {
          _id: hex(0xa0000000, index),
          tenantId: TENANT,
          userId: owner,
          name: `key ${index}`,
          prefix: `tsk_${index.toString(36)}`,
          hash: randomBytes(32).toString("hex"),
          scopes: ["inference"],
          createdAt: at,
          lastUsedAt: at,
          revokedAt: index % 5 === 0 ? at : null,
        };
        break;
      case "sessions": {
        const expiresAt = new Date(at.getTime() + 30 * DAY_MS);
        yield {
          _id: hex(0x5e550000, index),
          tenantId: TENANT,
          userId: owner,
          role: "user",
          deviceInfo: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
          ip: `10.${index % 250}.${(index >> 8) % 250}.${index % 200}`,
          rememberMe: index % 2 === 0,
          createdAt: at,
          lastUsedAt: at,
          expiresAt,
          refreshHash: randomBytes(32).toString("base64url"),
          previousRefreshHash: randomBytes(32).toString("base64url"),
          rotatedAt: at,
          revokedAt: index % 3 === 0 ? at : null,
          revokedReason: index % 3 === 0 ? "logout" : null,
          refreshIn: "redis",
        };
        break;
      }
      case "chats":
        yield {
          _id: chatId(index),
          tenantId: TENANT,
          userId: owner,
          title: text(index, 40),
          model: "demo-echo",
          lastSeq: Math.round(counts.messages / counts.chats),
          createdAt: at,
          updatedAt: at,
        };
        break;
      case "messages": {
        // Messages of one chat are consecutive; a user's question, then the answer.
        const perChat = Math.max(2, Math.round(counts.messages / counts.chats));
        const chat = Math.floor(index / perChat) % counts.chats;
        const seq = (index % perChat) + 1;
        const assistant = seq % 2 === 0;
        const chatOwner = userId(chat % users);
        yield {
          _id: hex(0x3e000000, index),
          tenantId: TENANT,
          userId: chatOwner,
          chatId: chatId(chat),
          clientMessageId: assistant ? `m${index - 1}#reply` : `m${index}`,
          seq,
          role: assistant ? "assistant" : "user",
          content: text(index, assistant ? 300 + (index % 900) : 40 + (index % 200)),
          model: "demo-echo",
          status: "complete",
          promptTokens: assistant ? 120 + (index % 400) : 0,
          completionTokens: assistant ? 60 + (index % 300) : 0,
          createdAt: at,
          replyTo: assistant ? hex(0x3e000000, index - 1) : null,
          checkpointedAt: assistant ? at : null,
          reservationId: assistant ? `r-${index}` : null,
          source: assistant ? "web" : null,
          estimatedPromptTokens: assistant ? 130 : 0,
          finishedAt: assistant ? at : null,
          chatDeleted: false,
        };
        break;
      }
      case "quota_usage_rollups": {
        // The most recent days of each user; today's for the first users (they were active today).
        const day = dayString(now - Math.floor(index / users) * DAY_MS);
        yield {
          _id: `${TENANT}/${owner}/${day}`,
          tenantId: TENANT,
          userId: owner,
          day,
          messages: 10 + (index % 40),
          tokens: 4_000 + (index % 30_000),
          models: { "demo-echo": { messages: 10 + (index % 40), tokens: 4_000 + (index % 30_000) } },
          journal: `j-${index}`,
          recentKeys: [],
          updatedAt: at,
        };
        break;
      }
      case "audit_log":
        yield {
          _id: hex(0xad000000, index),
          at,
          scope: TENANT,
          actorId: userId(0),
          action: ["user.update", "settings.update", "provider.update", "user.disable"][index % 4],
          targetType: "user",
          targetId: owner,
          before: JSON.stringify({ maxMessagesPerDay: null }),
          after: JSON.stringify({ maxMessagesPerDay: 200 }),
          requestId: randomBytes(8).toString("hex"),
        };
        break;
    }
  }
}

/** Documents per insertMany: FerretDB v1 takes 100,000 per command (48 MB); 10,000 keeps each transaction short. */
const BATCH = Number(env.BENCH_BATCH ?? 10_000);

async function seed(target: Db) {
  const started = performance.now();
  let done = 0;
  const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
  for (const collection of Object.keys(counts) as Array<keyof typeof shares>) {
    let batch: Document[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await target.collection(collection).insertMany(batch, { ordered: false });
      done += batch.length;
      batch = [];
      const seconds = (performance.now() - started) / 1000;
      process.stdout.write(
        `\rseeding ${collection.padEnd(20)} ${done.toLocaleString("en")} / ${total.toLocaleString("en")} (${Math.round(done / seconds)} docs/s)   `,
      );
    };
    for (const document of documents(collection)) {
      batch.push(document);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
  }
  process.stdout.write("\n");
  await target.collection(SEED_MARKER).insertOne({ _id: "seed" as never, records, counts, at: new Date() });
  log(`seeded ${total.toLocaleString("en")} records in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL (the tables FerretDB keeps each collection in: schema = database name).
// ---------------------------------------------------------------------------------------------
function psql(sql: string): string | null {
  const result = spawnSync("psql", [pgUrl, "-X", "-q", "-tA", "-F", "\t", "-c", sql], { encoding: "utf8" });
  return result.status === 0 ? result.stdout : null;
}
const collectionOfTable = (table: string) => table.replace(/_[0-9a-f]{8}$/, "");
type TableStats = Record<string, { seqScan: number; seqRows: number; idxScan: number; idxRows: number; written: number; rows: number }>;
function tableStats(): TableStats | null {
  const out = psql(
    `select relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0), coalesce(idx_tup_fetch, 0), n_tup_ins + n_tup_upd + n_tup_del, n_live_tup from pg_stat_user_tables where schemaname = '${dbName}'`,
  );
  if (out === null) return null;
  const stats: TableStats = {};
  for (const line of out.trim().split("\n").filter(Boolean)) {
    const [table = "", ...numbers] = line.split("\t");
    const [seqScan = 0, seqRows = 0, idxScan = 0, idxRows = 0, written = 0, rows = 0] = numbers.map(Number);
    stats[collectionOfTable(table)] = { seqScan, seqRows, idxScan, idxRows, written, rows };
  }
  return stats;
}

// ---------------------------------------------------------------------------------------------
// CPU of the servers (shared by everybody on this machine) and of the services.
// ---------------------------------------------------------------------------------------------
const amqpPort = new URL(env.AMQP_URL!).port || "5672";
/** Whether a RabbitMQ node (beam.smp) is the one on AMQP_URL: its config, under `-home`, names the port. */
async function isOurRabbit(pid: string): Promise<boolean> {
  const args = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0");
  const home = args[args.indexOf("-home") + 1];
  if (!home || args.indexOf("-home") < 0) return true;
  const config = await readFile(`${home}/rabbitmq.conf`, "utf8").catch(() => "");
  return config === "" || config.includes(`:${amqpPort}`);
}
type ServerCpu = Map<string, { name: string; cpuMs: number }>;
/** CPU used so far by each process of the local servers (FerretDB, PostgreSQL, Redis, RabbitMQ), by pid. */
async function serverCpu(): Promise<ServerCpu> {
  const names: Record<string, string> = { ferretdb: "FerretDB", postgres: "PostgreSQL", "redis-server": "Redis", "beam.smp": "RabbitMQ" };
  const result: ServerCpu = new Map();
  for (const pid of (await readdir("/proc").catch(() => [])).filter((entry) => /^\d+$/.test(entry))) {
    const usage = await processCpu(pid);
    const name = usage && names[usage.name];
    if (!name || (name === "RabbitMQ" && !(await isOurRabbit(pid)))) continue;
    result.set(pid, { name, cpuMs: usage.cpuMs });
  }
  return result;
}
/**
 * % of one core per server between two samples: processes that started meanwhile count from 0
 * (PostgreSQL starts one per connection), ones that ended are left out (their last part is lost).
 */
function serverPercent(before: ServerCpu, after: ServerCpu, seconds: number): Record<string, number> {
  const totals: Record<string, number> = { FerretDB: 0, PostgreSQL: 0, Redis: 0, RabbitMQ: 0 };
  for (const [pid, { name, cpuMs }] of after) totals[name]! += cpuMs - (before.get(pid)?.cpuMs ?? 0);
  return Object.fromEntries(Object.entries(totals).map(([name, ms]) => [name, +((ms / (seconds * 1000)) * 100).toFixed(2)]));
}
const sleep = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

// ---------------------------------------------------------------------------------------------
// The queries of the background work, start-up and the streaming checkpoints.
// ---------------------------------------------------------------------------------------------
interface BackgroundQuery {
  who: string;
  when: string;
  collection: string;
  filter: Document;
  sort?: Document;
  limit?: number;
  /** What the service sends, where explain is asked for the equivalent find. */
  sends?: string;
}
const before = new Date(now - 60_000);
const someIds = async (collection: string, count: number, filter: Document = {}) =>
  (
    await db
      .collection(collection)
      .find(filter, { projection: { _id: 1 } })
      .limit(count)
      .toArray()
  ).map((doc) => String(doc._id));
async function backgroundQueries(): Promise<BackgroundQuery[]> {
  const [messageId] = await someIds("messages", 1, { role: "assistant" });
  const [sessionId] = await someIds("sessions", 1);
  const days = [-1, 0, 1].map((offset) => dayString(now + offset * DAY_MS));
  return [
    { who: "chat usage relay", when: "every 1 s", collection: "usage_outbox", filter: {}, limit: 200 },
    { who: "chat abandoned-answer sweep", when: "every 30 s", collection: "stop_requests", filter: { requestedAt: { $lt: before } }, sends: "deleteMany" },
    { who: "chat abandoned-answer sweep", when: "every 30 s", collection: "streaming_replies", filter: {} },
    { who: "chat abandoned-answer sweep, per stale answer", when: "after a crash", collection: "messages", filter: { _id: messageId ?? "none" } },
    {
      who: "chat recovery: finish a stale answer",
      when: "after a crash",
      collection: "messages",
      filter: { _id: messageId ?? "none", status: "streaming" },
      sends: "findAndModify",
    },
    {
      who: "chat answer checkpoint",
      when: "every 300 ms per streaming answer",
      collection: "messages",
      filter: { _id: messageId ?? "none", status: "streaming" },
      sends: "update",
    },
    { who: "chat stop check at checkpoint", when: "every 300 ms per streaming answer", collection: "stop_requests", filter: { _id: messageId ?? "none" } },
    { who: "chat start-up: legacy outbox entries", when: "each start, until moved", collection: "messages", filter: { "outbox.pending": true } },
    { who: "chat start-up: legacy outbox entries", when: "each start, until moved", collection: "api_completions", filter: { "outbox.pending": true } },
    { who: "session key rotation check", when: "hourly", collection: "signing_keys", filter: {}, sort: { createdAt: -1 }, limit: 1 },
    { who: "session purge, per due session", when: "hourly", collection: "sessions", filter: { _id: sessionId ?? "none" }, sends: "delete" },
    {
      who: "session write-behind flush, per refreshed session",
      when: "every 1 s after refreshes",
      collection: "sessions",
      filter: { _id: sessionId ?? "none", revokedAt: null },
      sends: "update",
    },
    {
      who: "quota start-up: today's counters from rollups",
      when: "each start",
      collection: "quota_usage_rollups",
      filter: { day: { $in: days } },
      sort: { _id: 1 },
    },
    ...days.map((day) => ({ who: "quota start-up: today's counters, per day", when: "each start", collection: "quota_usage_rollups", filter: { day } })),
  ];
}

function planNodes(plan: Document | undefined, into: string[] = []): string[] {
  if (!plan) return into;
  into.push(String(plan["Node Type"]) + (plan["Index Name"] ? ` (${plan["Index Name"]})` : ""));
  for (const child of (plan.Plans as Document[] | undefined) ?? []) planNodes(child, into);
  return into;
}

async function explainAll() {
  const results = [];
  for (const query of await backgroundQueries()) {
    const collection = db.collection(query.collection);
    const explained = await db.command({
      explain: { find: query.collection, filter: query.filter, ...(query.sort && { sort: query.sort }), ...(query.limit && { limit: query.limit }) },
      verbosity: "queryPlanner",
    });
    const nodes = planNodes((explained.queryPlanner as Document | undefined)?.Plan as Document | undefined);
    // collStats answers from PostgreSQL's statistics; FerretDB v1 counts (even "estimated") by reading every document.
    const stored = Number((await db.command({ collStats: query.collection }).catch(() => ({ count: 0 }))).count ?? 0);
    // Timed once; not a search FerretDB serves by reading every document of a large collection
    // (minutes at a million: what it costs shows in the start-up figures instead).
    let ms: number | null = null;
    if (explained.filterPushdown || stored < 100_000 || query.limit) {
      const start = performance.now();
      let cursor = collection.find(query.filter);
      if (query.sort) cursor = cursor.sort(query.sort);
      if (query.limit) cursor = cursor.limit(query.limit);
      await cursor.toArray();
      ms = +(performance.now() - start).toFixed(1);
    }
    const result = {
      who: query.who,
      when: query.when,
      collection: query.collection,
      stored,
      filter: JSON.stringify(query.filter).replace(/"(\d{4}-\d\d-\d\dT[^"]+)"/g, "date"),
      ...(query.sends && { sends: query.sends }),
      plan: nodes.join(" > ") || "(no table)",
      indexUsed: nodes.some((node) => node.includes("Index")),
      filterPushdown: Boolean(explained.filterPushdown),
      ms,
    };
    log(JSON.stringify(result));
    results.push(result);
  }
  return results;
}

/**
 * What one idle poll costs the servers, measured by sending it many times in a row from here with
 * the system stopped: on a shared machine the servers' CPU over a quiet minute mixes in other
 * work, a few hundred polls back to back do not.
 */
async function pollCost(polls = 300) {
  const rounds = [
    { name: "relay poll (usage_outbox, every 1 s)", run: () => db.collection("usage_outbox").find({}).limit(200).toArray() },
    {
      name: "abandoned-answer sweep (stop_requests + streaming_replies, every 30 s)",
      run: () =>
        Promise.all([
          db.collection("stop_requests").deleteMany({ requestedAt: { $lt: new Date(Date.now() - 60_000) } }),
          db.collection("streaming_replies").find({}).toArray(),
        ]),
    },
  ];
  for (const round of rounds) {
    const before = await serverCpu();
    const started = performance.now();
    for (let index = 0; index < polls; index += 1) await round.run();
    const seconds = (performance.now() - started) / 1000;
    const used = serverPercent(before, await serverCpu(), seconds);
    const msPerPoll = Object.fromEntries(Object.entries(used).map(([name, percent]) => [name, +(((percent / 100) * seconds * 1000) / polls).toFixed(2)]));
    log(JSON.stringify({ poll: round.name, polls, serverCpuMsPerPoll: msPerPoll }));
  }
}

// ---------------------------------------------------------------------------------------------
// The run.
// ---------------------------------------------------------------------------------------------
log(JSON.stringify({ database: dbName, records: empty ? 0 : records, cores: cpus().length, loadAverage: loadavg().map((value) => +value.toFixed(2)) }));
if (!empty) {
  const marker = await db.collection(SEED_MARKER).findOne({ _id: "seed" as never });
  if (flag("BENCH_RESEED") || !marker || marker.records !== records) {
    await db.dropDatabase();
    await removeRedisKeys(dbName);
    log(`seeding ${dbName}: ${JSON.stringify(counts)}`);
    await seed(db);
    // What autovacuum would do over the following minutes, done now so the window measures the system.
    const vacuumed = psql(
      `select string_agg(format('vacuum (analyze) %I.%I', schemaname, relname), '; ') from pg_stat_user_tables where schemaname = '${dbName}'`,
    );
    const statements = vacuumed?.trim();
    if (statements) for (const statement of statements.split("; ")) psql(statement);
  } else {
    log(`using the seeded ${dbName} (${JSON.stringify(marker.counts)}); BENCH_RESEED=1 seeds it again`);
  }
}
if (tableStats() === null) log(`(no table statistics: psql could not reach ${pgUrl}; set BENCH_PG_URL)`);

let baseline: Record<string, number> | undefined;
if (env.BENCH_BASELINE !== "0") {
  log(`baseline: ${windowSeconds} s with the system stopped (the servers are shared with whatever else runs here)`);
  const cpuBefore = await serverCpu();
  await sleep(windowSeconds);
  baseline = serverPercent(cpuBefore, await serverCpu(), windowSeconds);
  log(JSON.stringify({ baselineServersPercentOfCore: baseline, loadAverage: loadavg().map((value) => +value.toFixed(2)) }));
}

// The Redis keys live as long as the database (a restart finds its counters and session state,
// as an installation's does); the queues are the run's.
const prefix = dbName;
const queuePrefix = `${dbName}_${Date.now().toString(36)}`;
const infraAtStart = await serverCpu();
const statsAtStart = tableStats();
const startedAt = performance.now();
const system = await startSystem({
  randomPorts: true,
  // A start-up that reads the stored history takes its time: measured, not cut short.
  readyTimeoutMs: Number(env.BENCH_READY_TIMEOUT_SECONDS ?? 900) * 1000,
  env: {
    MONGO_URL: mongoUrl.toString(),
    REDIS_URL: env.REDIS_URL,
    AMQP_URL: env.AMQP_URL,
    REDIS_KEY_PREFIX: `${prefix}:`,
    AMQP_NAME_PREFIX: `${queuePrefix}.`,
    INTERNAL_GRPC_TOKEN: randomBytes(24).toString("base64url"),
    // Derived from the database's name: the signing and provider keys stored in it are encrypted with it.
    SECRETS_KEYRING: `k1:${createHash("sha256").update(`idle bench ${dbName}`).digest("base64")}`,
    LOG_LEVEL: "warn",
    DEFAULT_LLM_BASE_URL: "http://127.0.0.1:9/v1",
    UPSTREAM_ALLOWED_HOSTS: "127.0.0.1",
    DEFAULT_LLM_MODELS: "demo-echo",
  },
  onOutput: (service, line) => {
    if (flag("BENCH_VERBOSE")) log(`${service} | ${line}`);
  },
});
const startSeconds = (performance.now() - startedAt) / 1000;
const cleanUp = async () => {
  await system.stopAll();
  const removed = empty ? await removeRedisKeys(prefix) : 0;
  const { default: amqp } = await import("amqplib");
  const connection = await amqp.connect(env.AMQP_URL!);
  const channel = await connection.createChannel();
  for (const queue of ["quota.usage", "quota.usage.retry", "quota.usage.dead"]) await channel.deleteQueue(`${queuePrefix}.${queue}`);
  await channel.deleteExchange(`${queuePrefix}.${EVENTS_EXCHANGE}`);
  await connection.close();
  if (empty) await db.dropDatabase();
  await client.close();
  return removed;
};

try {
  const afterStart = await system.cpuMs();
  log(`started in ${startSeconds.toFixed(1)} s; settling ${settleSeconds} s`);
  await sleep(settleSeconds);
  const settled = await system.cpuMs();
  const infraSettled = await serverCpu();
  const statsSettled = tableStats();
  log(`measuring ${windowSeconds} s of idle`);
  await sleep(windowSeconds);
  const cpuEnd = await system.cpuMs();
  const infraEnd = await serverCpu();
  // Backends report their table statistics when they go idle, at most once a second.
  await sleep(2);
  const statsEnd = tableStats();

  const services = Object.fromEntries(
    (Object.keys(cpuEnd) as ServiceName[]).map((service) => [
      service,
      +((((cpuEnd[service] ?? 0) - (settled[service] ?? 0)) / (windowSeconds * 1000)) * 100).toFixed(2),
    ]),
  );
  const servers = serverPercent(infraSettled, infraEnd, windowSeconds);
  const rowsRead = (from: TableStats | null, to: TableStats | null) =>
    from && to
      ? Object.fromEntries(
          Object.entries(to)
            .map(([collection, end]) => {
              const start = from[collection] ?? { seqScan: 0, seqRows: 0, idxScan: 0, idxRows: 0, written: 0, rows: 0 };
              return [
                collection,
                {
                  stored: end.rows,
                  seqScans: end.seqScan - start.seqScan,
                  rowsScanned: end.seqRows - start.seqRows,
                  indexScans: end.idxScan - start.idxScan,
                  rowsWritten: end.written - start.written,
                },
              ] as const;
            })
            .filter(([, delta]) => delta.seqScans + delta.indexScans + delta.rowsWritten > 0),
        )
      : "no table statistics";
  log(
    JSON.stringify({
      startUp: {
        seconds: +startSeconds.toFixed(1),
        serviceCpuMsUntilReady: afterStart,
        serviceCpuMsWhileSettling: Object.fromEntries(
          Object.entries(settled).map(([service, ms]) => [service, ms - (afterStart[service as ServiceName] ?? 0)]),
        ),
        serversPercentOfCore: serverPercent(infraAtStart, infraSettled, (performance.now() - startedAt) / 1000),
        tablesReadFromStartToSettled: rowsRead(statsAtStart, statsSettled),
      },
    }),
  );
  log(
    JSON.stringify({
      idleWindowSeconds: windowSeconds,
      servicesPercentOfCore: services,
      servicesTotal: +Object.values(services)
        .reduce((sum, value) => sum + value, 0)
        .toFixed(2),
      serversPercentOfCore: servers,
      ...(baseline && {
        serversMinusBaseline: Object.fromEntries(Object.entries(servers).map(([name, value]) => [name, +(value - (baseline[name] ?? 0)).toFixed(2)])),
      }),
      tablesReadInWindow: rowsRead(statsSettled, statsEnd),
      rssMb: await system.rssMb(),
      loadAverage: loadavg().map((value) => +value.toFixed(2)),
    }),
  );
  log("queries of the background work (explain on the seeded data; ms: one run of the same find):");
  await explainAll();
} finally {
  await system.stopAll();
  if (!flag("BENCH_NO_POLL_COST")) await pollCost().catch((error: unknown) => log(`poll cost not measured: ${(error as Error).message}`));
  const removed = await cleanUp();
  log(
    `stopped; removed the run's queues${empty ? `, ${removed} Redis keys and database ${dbName}` : `; database ${dbName} and its Redis keys kept (BENCH_DROP=1 drops them)`}`,
  );
}
process.exit(0);
