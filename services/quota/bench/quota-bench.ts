// Quota benchmark (npm run bench:quota -w services/quota), against the servers in MONGO_URL,
// REDIS_URL and AMQP_URL (`eval "$(bash deploy/local/infra.sh env)"`):
//   1. usage events end to end: published with confirms to RabbitMQ, consumed by the real consumer
//      into MongoDB rollups and Redis counters; sustained events/s, publish-to-counter latency,
//      and exact totals (5% of events are published twice and must count once);
//   2. CheckAndReserve over gRPC against the real system (identity, session and quota processes),
//      with real access tokens: closed loop at BENCH_CONCURRENCY, then paced at BENCH_RESERVE_RATE
//      a second for BENCH_RESERVE_SECONDS; each service's RSS before and after the paced run.
// BENCH_BACKLOG=1 queues every event before the consumer starts (the consumer's rate alone);
// BENCH_TRACE=1 prints each batch's size, counting time and time until durable.
// Each run uses its own database, key prefix and queue names, and removes them afterwards.
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { IdentityServiceService } from "@tessera/proto/tessera/identity/v1/identity";
import { QuotaServiceService } from "@tessera/proto/tessera/quota/v1/quota";
import { SessionServiceService } from "@tessera/proto/tessera/session/v1/session";
import type { ConfirmChannel } from "amqplib";
import {
  connectAmqp,
  connectMongo,
  connectRedis,
  createGrpcClient,
  createLogger,
  encodeUsageEvent,
  newUuid,
  percentile,
  sessionCaller,
  USAGE_EVENT_TYPE,
} from "@tessera/platform";
import { startSystem } from "@tessera/platform/launcher";
import { createUsageEventConsumer, usageTopology } from "../src/adapters/amqp/usage-event-consumer.ts";
import { defaultTenantSettings } from "../src/domain/limits.ts";
import { createQuotaCore } from "../src/wiring.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const USERS = Number(process.env.BENCH_USERS ?? 200);
const RESERVATIONS = Number(process.env.BENCH_RESERVATIONS ?? 3_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 50);
const PACED_EVENTS = Number(process.env.BENCH_PACED_EVENTS ?? 500);
const RESERVE_RATE = Number(process.env.BENCH_RESERVE_RATE ?? 2_000);
const RESERVE_SECONDS = Number(process.env.BENCH_RESERVE_SECONDS ?? 5);

const required = (name: string) => {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`${name} is required (eval "$(bash deploy/local/infra.sh env)")\n`);
    process.exit(2);
  }
  return value;
};
const mongoBase = required("MONGO_URL");
const redisUrl = required("REDIS_URL");
const amqpUrl = required("AMQP_URL");

const runName = `bench_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
const mongoUrl = (() => {
  const url = new URL(mongoBase);
  url.pathname = `/${runName}`;
  return url.toString();
})();
const keyPrefix = `${runName}:`;
const logger = createLogger("quota-bench", process.env.LOG_LEVEL ?? "warn");

const summary = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    p50: +percentile(sorted, 50).toFixed(2),
    p95: +percentile(sorted, 95).toFixed(2),
    p99: +percentile(sorted, 99).toFixed(2),
    max: +(sorted.at(-1) ?? 0).toFixed(2),
  };
};

async function benchEvents() {
  const mongo = await connectMongo(mongoUrl, logger);
  const redis = connectRedis(redisUrl, logger);
  const useCases = await createQuotaCore({
    mongo: mongo.connection,
    redis: redis.redis,
    keyPrefix,
    users: { get: async () => null },
    settings: { get: async (tenantId) => defaultTenantSettings(tenantId) },
    logger,
    // The service's default QUOTA_ROLLUP_WRITE_INTERVAL_MS unless BENCH_ROLLUP_INTERVAL_MS says otherwise.
    quota: { failOpen: false, reservationTtlSeconds: 900, rollupWriteIntervalMs: Number(process.env.BENCH_ROLLUP_INTERVAL_MS ?? 200) },
  });
  const topology = usageTopology(`${runName}.`);
  const consumerConnection = connectAmqp(amqpUrl, logger, "quota-bench-consumer");
  const publishedAt = new Map<string, number>();
  const latencies: number[] = [];
  const pacedLatencies: number[] = [];
  const durableLatencies: number[] = [];
  const pacedDurableLatencies: number[] = [];
  let paced = false;
  let firstPublish = 0;
  let lastEffect = 0;
  let applied = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const makeConsumer = () =>
    createUsageEventConsumer({
      amqp: consumerConnection,
      topology,
      logger,
      // The service's defaults (QUOTA_CONSUMER_*) unless BENCH_PREFETCH / BENCH_BATCH say otherwise.
      prefetch: Number(process.env.BENCH_PREFETCH ?? 20_000),
      batchSize: Number(process.env.BENCH_BATCH ?? 1_000),
      batchWaitMs: Number(process.env.BENCH_BATCH_WAIT_MS ?? 5),
      retryDelayMs: 5_000,
      maxAttempts: 10,
      deliveryLimit: 20,
      handleBatch: async (records) => {
        const countStart = performance.now();
        const counted = await useCases.recordUsageBatch(records);
        if (process.env.BENCH_TRACE) {
          const countMs = performance.now() - countStart;
          void counted.written.then(() =>
            process.stderr.write(
              `batch ${records.length} at ${(countStart - firstPublish).toFixed(0)} count ${countMs.toFixed(0)} ms, durable after ${(performance.now() - countStart).toFixed(0)} ms\n`,
            ),
          );
        }
        // Publish-to-counter: the live counters (what quota checks read) include the event.
        const now = performance.now();
        const inPacedPhase = paced;
        counted.results.forEach((result, index) => {
          if (result !== "applied") return;
          (inPacedPhase ? pacedLatencies : latencies).push(now - publishedAt.get(records[index]!.eventId)!);
        });
        // Publish-to-durable: in the MongoDB rollups too, and so acknowledged.
        void counted.written.then(
          () => {
            const durableAt = performance.now();
            counted.results.forEach((result, index) => {
              if (result !== "applied") return;
              (inPacedPhase ? pacedDurableLatencies : durableLatencies).push(durableAt - publishedAt.get(records[index]!.eventId)!);
              lastEffect = durableAt;
              applied += 1;
              if (applied === EVENTS || applied === EVENTS + PACED_EVENTS) resolveDone();
            });
          },
          () => undefined,
        );
        return counted;
      },
    });
  // BENCH_BACKLOG=1: the events are all queued first and the consumer starts afterwards, so the
  // rate is the consumer's alone (not bounded by this process publishing them meanwhile).
  const backlog = process.env.BENCH_BACKLOG === "1";
  let consumer = makeConsumer();
  await consumer.start();
  await consumerConnection.whenReady();
  if (backlog) await consumer.stop(); // the topology is declared; nothing consumed until the backlog is queued

  const publisher = connectAmqp(amqpUrl, logger, "quota-bench-publisher");
  await publisher.addSetup(async (channel: ConfirmChannel) => {
    await channel.assertExchange(topology.exchange, "topic", { durable: true });
  });
  await publisher.whenReady();

  const userIds = Array.from({ length: USERS }, (_, index) => `bench-user-${index}`);
  const occurredAt = new Date().toISOString();
  let expectedTokens = 0;
  const events = Array.from({ length: EVENTS }, (_, index) => {
    const tokens = 50 + (index % 200);
    expectedTokens += tokens;
    return {
      eventId: newUuid(),
      occurredAt,
      tenantId: "bench",
      schemaVersion: 1,
      payload: {
        userId: userIds[index % USERS]!,
        chatId: "c",
        messageId: `m${index}`,
        model: index % 3 ? "model-a" : "model.b",
        promptTokens: 20,
        completionTokens: tokens - 20,
        totalTokens: tokens,
        source: "api",
        outcome: "complete",
        reservationId: "",
      },
    };
  });

  const redisCpuSeconds = async () => {
    const info = await redis.redis.info("cpu");
    return Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
  };
  let cpuBefore = process.cpuUsage();
  let redisCpuBefore = await redisCpuSeconds();
  firstPublish = performance.now();
  const WINDOW = 500;
  for (let start = 0; start < EVENTS; start += WINDOW) {
    const slice = events.slice(start, start + WINDOW);
    await Promise.all(
      slice.flatMap((event, offset) => {
        publishedAt.set(event.eventId, performance.now());
        const body = encodeUsageEvent(event);
        const send = () => publisher.publish(topology.exchange, USAGE_EVENT_TYPE, body, { messageId: event.eventId, type: USAGE_EVENT_TYPE });
        // Every 20th event goes out twice (a publisher retry): it must still count once.
        return (start + offset) % 20 === 0 ? [send(), send()] : [send()];
      }),
    );
  }
  const publishSeconds = (performance.now() - firstPublish) / 1000;
  let consumeStart = firstPublish;
  if (backlog) {
    cpuBefore = process.cpuUsage();
    redisCpuBefore = await redisCpuSeconds();
    consumer = makeConsumer();
    consumeStart = performance.now();
    await consumer.start();
  }
  await done;
  const seconds = (lastEffect - consumeStart) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  // CPU per event (steadier than rates on a shared machine). In backlog mode this process only
  // consumes; otherwise it also publishes. Redis's figure includes whatever else used it meanwhile.
  const cpuMicrosecondsPerEvent = {
    thisProcess: Math.round((cpu.user + cpu.system) / EVENTS),
    redis: Math.round((((await redisCpuSeconds()) - redisCpuBefore) * 1e6) / EVENTS),
  };
  // Let the duplicates drain too before totals are read.
  while (consumer.stats.applied + consumer.stats.duplicates < EVENTS + Math.ceil(EVENTS / 20)) await new Promise((resolve) => setTimeout(resolve, 50));

  // Paced phase: events at a steady rate below capacity, so latency is not queueing behind a backlog.
  paced = true;
  let pacedTokens = 0;
  const pacedDone = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const pacedStart = performance.now();
  for (let index = 0; index < PACED_EVENTS; index += 1) {
    const due = pacedStart + (index * 1000) / PACED_RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const event = { ...events[index]!, eventId: newUuid(), payload: { ...events[index]!.payload, messageId: `p${index}` } };
    pacedTokens += event.payload.totalTokens;
    publishedAt.set(event.eventId, performance.now());
    void publisher.publish(topology.exchange, USAGE_EVENT_TYPE, encodeUsageEvent(event), { messageId: event.eventId, type: USAGE_EVENT_TYPE });
  }
  await pacedDone;
  expectedTokens += pacedTokens;

  const today = new Date().toISOString().slice(0, 10);
  let liveMessages = 0;
  let liveTokens = 0;
  for (const userId of userIds) {
    const [messages, tokens] = await redis.redis.hmget(`${keyPrefix}quota:{bench:${userId}}:${today}`, "m", "t");
    liveMessages += Number(messages ?? 0);
    liveTokens += Number(tokens ?? 0);
  }
  const rollupTotals = await useCases.getDayUsage(sessionCaller({ userId: "bench-admin", tenantId: "bench", role: "admin" }), {
    date: today,
    limit: 1,
    cursor: "",
  });

  await consumer.stop();
  await consumerConnection.whenReady();
  await consumerConnection.addSetup(async (channel: ConfirmChannel) => {
    for (const queue of [topology.queue, topology.retryQueue, topology.deadLetterQueue]) await channel.deleteQueue(queue);
    await channel.deleteExchange(topology.exchange);
  });
  await consumerConnection.close();
  await publisher.close();
  let cursor = "0";
  do {
    const [next, keys] = await redis.redis.scan(cursor, "MATCH", `${keyPrefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await redis.redis.del(...keys);
  } while (cursor !== "0");
  await mongo.connection.dropDatabase();
  await mongo.close();
  await redis.close();

  return {
    events: EVENTS,
    mode: backlog ? "queued first, then consumed" : "consumed while published",
    duplicatesPublished: Math.ceil(EVENTS / 20),
    users: USERS,
    publishSeconds: +publishSeconds.toFixed(2),
    // Until the last event is durable (in Redis and MongoDB, acknowledged).
    sustainedEventsPerSecond: Math.round(EVENTS / seconds),
    cpuMicrosecondsPerEvent,
    publishToCounterMsSaturated: summary(latencies),
    publishToDurableMsSaturated: summary(durableLatencies),
    paced: {
      eventsPerSecond: PACED_RATE,
      events: PACED_EVENTS,
      publishToCounterMs: summary(pacedLatencies),
      publishToDurableMs: summary(pacedDurableLatencies),
    },
    exact: {
      expected: { messages: EVENTS + PACED_EVENTS, tokens: expectedTokens },
      redis: { messages: liveMessages, tokens: liveTokens },
      mongo: rollupTotals.totals,
      ok:
        liveMessages === EVENTS + PACED_EVENTS &&
        liveTokens === expectedTokens &&
        rollupTotals.totals.messages === EVENTS + PACED_EVENTS &&
        rollupTotals.totals.tokens === expectedTokens,
    },
    consumer: { ...consumer.stats },
  };
}

/**
 * The database's own ceiling for the rollup write the consumer makes per event (one guarded
 * single-document upsert), at the consumer's parallelism, on the same server: the consumer's
 * events/s is read against this.
 */
async function benchDatabaseCeiling() {
  const mongo = await connectMongo(mongoUrl, logger);
  const collection = mongo.connection.db!.collection<{ _id: string; messages: number; eventIds: string[] }>("bench_ceiling");
  const writes = 3_000;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (;;) {
        const index = next++;
        if (index >= writes) return;
        const eventId = newUuid();
        await collection
          .updateOne({ _id: `bench/u${index % USERS}`, eventIds: { $ne: eventId } }, { $inc: { messages: 1 }, $push: { eventIds: eventId } }, { upsert: true })
          .catch(() => undefined);
      }
    }),
  );
  const perSecond = Math.round(writes / ((performance.now() - started) / 1000));
  await mongo.connection.dropDatabase();
  await mongo.close();
  return { guardedUpsertsPerSecond: perSecond };
}

async function benchReservations() {
  const internalToken = randomBytes(24).toString("base64url");
  const system = await startSystem({
    randomPorts: true,
    env: {
      MONGO_URL: mongoUrl,
      REDIS_URL: redisUrl,
      AMQP_URL: amqpUrl,
      REDIS_KEY_PREFIX: keyPrefix,
      AMQP_NAME_PREFIX: `${runName}.sys.`,
      INTERNAL_GRPC_TOKEN: internalToken,
      SECRETS_KEYRING: `k1:${randomBytes(32).toString("base64")}`,
      LOG_LEVEL: "warn",
      // The bench registers its users from one address.
      REGISTRATION_MAX_PER_IP: "100000",
      REGISTRATION_MAX_PER_TENANT: "100000",
    },
    onOutput: () => undefined,
  });
  try {
    const client = <D extends Parameters<typeof createGrpcClient>[0]>(definition: D, name: "identity" | "session" | "quota") =>
      createGrpcClient(definition, { name, address: `127.0.0.1:${system.ports[name].grpc}`, internalToken, defaultDeadlineMs: 10_000 });
    const identity = client(IdentityServiceService, "identity");
    const session = client(SessionServiceService, "session");
    const quota = client(QuotaServiceService, "quota");
    const tokens: string[] = [];
    const perUser = 90; // under the default 100 messages a day
    const users = Math.ceil(RESERVATIONS / perUser);
    for (let index = 0; index < users; index += 1) {
      const { sessionGrant } = await identity.register({
        tenantId: "default",
        email: `bench${index}@${runName}.example`,
        username: `bench${index}x${runName.slice(-6)}`,
        password: "a benchmark passphrase",
        fullName: "",
        clientIp: "127.0.0.1",
      });
      const pair = await session.createSession({
        sessionGrant,
        rememberMe: false,
        deviceInfo: "bench",
        ip: "127.0.0.1",
      });
      tokens.push(pair.accessToken);
    }
    // Warm-up: caches, JWKS, connections, first-of-the-day counter initialisation.
    for (const token of tokens) await quota.getQuota({ tenantId: "", userId: "" }, { accessToken: token });
    const latencies: number[] = [];
    let next = 0;
    const quotaCpuBefore = (await system.cpuMs()).quota ?? 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (;;) {
          const index = next++;
          if (index >= RESERVATIONS) return;
          const begin = performance.now();
          await quota.checkAndReserve(
            { tenantId: "", userId: "", reservationId: "", estimatedTokens: 0, model: "", source: "" },
            { accessToken: tokens[index % tokens.length]! },
          );
          latencies.push(performance.now() - begin);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    // CPU of the quota process per call (steadier than latency on a shared machine; /proc ticks are 10 ms).
    const closedLoopCpuMicroseconds = Math.round(((((await system.cpuMs()).quota ?? 0) - quotaCpuBefore) * 1000) / RESERVATIONS);
    const rssIdle = await system.rssMb();

    // Paced: RESERVE_RATE calls a second for RESERVE_SECONDS (open loop: a call starts on time
    // whether or not the previous ones finished), each against a user with room left.
    const pacedLatencies: number[] = [];
    const pacedCalls = RESERVE_RATE * RESERVE_SECONDS;
    const pacedUsers: string[] = [];
    for (let index = 0; pacedUsers.length * perUser < pacedCalls; index += 1) {
      const { sessionGrant } = await identity.register({
        tenantId: "default",
        email: `paced${index}@${runName}.example`,
        username: `paced${index}x${runName.slice(-6)}`,
        password: "a benchmark passphrase",
        fullName: "",
        clientIp: "127.0.0.1",
      });
      const pair = await session.createSession({
        sessionGrant,
        rememberMe: false,
        deviceInfo: "bench",
        ip: "127.0.0.1",
      });
      pacedUsers.push(pair.accessToken);
      await quota.getQuota({ tenantId: "", userId: "" }, { accessToken: pair.accessToken });
    }
    let pacedErrors = 0;
    let firstPacedError: string | undefined;
    const pacedCpuBefore = (await system.cpuMs()).quota ?? 0;
    const pacedStarted = performance.now();
    const inFlight: Array<Promise<void>> = [];
    for (let index = 0; index < pacedCalls; index += 1) {
      const due = pacedStarted + (index * 1000) / RESERVE_RATE;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const begin = performance.now();
      inFlight.push(
        quota
          .checkAndReserve(
            { tenantId: "", userId: "", reservationId: "", estimatedTokens: 100, model: "bench-model", source: "api" },
            { accessToken: pacedUsers[index % pacedUsers.length]! },
          )
          .then(
            () => void pacedLatencies.push(performance.now() - begin),
            (error: unknown) => {
              pacedErrors += 1;
              firstPacedError ??= (error as Error).message;
            },
          ),
      );
    }
    await Promise.all(inFlight);
    const pacedSeconds = (performance.now() - pacedStarted) / 1000;
    const pacedCpuMicroseconds = Math.round(((((await system.cpuMs()).quota ?? 0) - pacedCpuBefore) * 1000) / pacedCalls);
    const rssAfter = await system.rssMb();
    identity.close();
    session.close();
    quota.close();
    return {
      calls: RESERVATIONS,
      concurrency: CONCURRENCY,
      callsPerSecond: Math.round(RESERVATIONS / seconds),
      latencyMs: summary(latencies),
      quotaCpuMicrosecondsPerCall: { closedLoop: closedLoopCpuMicroseconds, paced: pacedCpuMicroseconds },
      paced: {
        targetPerSecond: RESERVE_RATE,
        achievedPerSecond: Math.round(pacedCalls / pacedSeconds),
        errors: pacedErrors,
        firstError: firstPacedError,
        latencyMs: summary(pacedLatencies),
      },
      rssMb: { idle: rssIdle, afterRun: rssAfter },
    };
  } finally {
    await system.stopAll();
    const systemTopology = usageTopology(`${runName}.sys.`);
    const cleaner = connectAmqp(amqpUrl, logger, "quota-bench-cleanup");
    await new Promise<void>((resolve) => {
      void cleaner.addSetup(async (channel: ConfirmChannel) => {
        for (const queue of [systemTopology.queue, systemTopology.retryQueue, systemTopology.deadLetterQueue]) await channel.deleteQueue(queue);
        await channel.deleteExchange(systemTopology.exchange);
        resolve();
      });
    });
    await cleaner.close();
    const mongo = await connectMongo(mongoUrl, logger);
    await mongo.connection.dropDatabase();
    await mongo.close();
    const redis = connectRedis(redisUrl, logger);
    let cursor = "0";
    do {
      const [nextCursor, keys] = await redis.redis.scan(cursor, "MATCH", `${keyPrefix}*`, "COUNT", 1000);
      cursor = nextCursor;
      if (keys.length > 0) await redis.redis.del(...keys);
    } while (cursor !== "0");
    await redis.close();
  }
}

// BENCH_PARTS=events or BENCH_PARTS=grpc runs one part only.
const parts = (process.env.BENCH_PARTS ?? "events,grpc").split(",");
let exact = true;
if (parts.includes("events")) {
  const events = await benchEvents();
  exact = events.exact.ok;
  process.stdout.write(`usage events end to end\n${JSON.stringify(events, null, 2)}\n`);
}
if (parts.includes("events")) {
  process.stdout.write(`database ceiling\n${JSON.stringify(await benchDatabaseCeiling(), null, 2)}\n`);
}
if (parts.includes("grpc")) {
  const reservations = await benchReservations();
  process.stdout.write(`CheckAndReserve over gRPC\n${JSON.stringify(reservations, null, 2)}\n`);
}
process.exit(exact ? 0 : 1);
