import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError, connectMongo, createLogger, createSecretBox, newId, newUuid, sessionCaller, systemClock, createCache, type Connection } from "@tessera/platform";
import { testInfrastructure } from "@tessera/platform/testing";
import { createMongoChatRepository } from "../src/adapters/mongo/mongo-chat-repository.ts";
import { createMongoMessageRepository } from "../src/adapters/mongo/mongo-message-repository.ts";
import { createMongoProviderRepository } from "../src/adapters/mongo/mongo-provider-repository.ts";
import { gptTokenCounter } from "../src/adapters/tokenizer/gpt-token-counter.ts";
import { createOpenAiCompatibleGateway } from "../src/adapters/upstream/openai-compatible-gateway.ts";
import { createUpstreamUrlGuard } from "../src/adapters/upstream/upstream-url-guard.ts";
import { ActiveStreams } from "../src/application/active-streams.ts";
import type { ChatDependencies } from "../src/application/dependencies.ts";
import { chatManagement } from "../src/application/manage-chats.ts";
import { providerManagement } from "../src/application/manage-providers.ts";
import { stopMessage } from "../src/application/stop-message.ts";
import { recoverAbandonedReplies } from "../src/application/recover-abandoned-replies.ts";
import { createSendMessage, type SendEvent } from "../src/application/send-message.ts";
import { KeyPool } from "../src/domain/key-pool.ts";
import type { QuotaGate, UsageRecorder } from "../src/domain/ports.ts";
import type { UsageRecord } from "../src/domain/usage.ts";
import { startDemoUpstream, type DemoUpstream } from "../src/demo-upstream/demo-upstream.ts";

// The chat service's own parts against real MongoDB and a real (local) upstream. Quota and
// identity belong to other services: here they are simple in-memory ports that record calls.
const logger = createLogger("chat-test", "silent");
const keyring = (id: string) => `${id}:${randomBytes(32).toString("base64")}`;
const firstKey = keyring("k1");
let upstream: DemoUpstream;
let mongo: { connection: Connection; close: () => Promise<void> };
let mongoUrl: string;
let providers: ReturnType<typeof createMongoProviderRepository>;
// Each test tenant here runs on its own environment provider (the shared upstream), granted.
const grantedEverywhere = async () => ({ sharedUpstream: true, models: [] });
let messages: ReturnType<typeof createMongoMessageRepository>;
let deps: ChatDependencies;
const quotaCalls: string[] = [];
const reservedTokens = new Map<string, number>();
// The local upstream listens on loopback, which an operator must allow explicitly.
const urlGuard = createUpstreamUrlGuard({ allowedHosts: ["127.0.0.1"] });
// Usage as the recorder receives it (publishing it is the recorder's own concern, tested apart).
const recorded: UsageRecord[] = [];
const recorder: UsageRecorder = { record: async (usage) => void recorded.push(usage) };

const quota: QuotaGate = {
  reserve: async (_caller, reservationId, estimatedTokens = 0) => {
    quotaCalls.push(`reserve ${reservationId}`);
    reservedTokens.set(reservationId, estimatedTokens);
  },
  release: async (_caller, reservationId) => void quotaCalls.push(`release ${reservationId}`),
};

// Every read goes to the database, so a test sees its own provider changes at once.
const uncached = { cache: createCache<never>({ name: "models", ttlMs: 0, maxEntries: 1 }), changed: async () => undefined };

beforeAll(async () => {
  upstream = await startDemoUpstream({ tokenDelayMs: 1 });
  mongoUrl = testInfrastructure("chat").mongoUrl;
  mongo = await connectMongo(mongoUrl, logger);
  providers = createMongoProviderRepository(mongo.connection, createSecretBox(firstKey), grantedEverywhere, uncached);
  messages = createMongoMessageRepository(mongo.connection, recorder);
  const chats = createMongoChatRepository(mongo.connection, (owner, chatId) => messages.deleteChat(owner, chatId));
  await Promise.all([providers.ready(), messages.ready(), chats.ready()]);
  deps = {
    chats,
    messages,
    completions: recorder,
    quota,
    users: { get: async () => ({ status: "active", maxChats: 10 }) },
    models: providers,
    tenantSettings: { maxCompletionTokens: async () => null },
    llm: createOpenAiCompatibleGateway({
      providers,
      pool: new KeyPool(systemClock, { cooldownMs: 60_000, unauthorizedCooldownMs: 60_000 }),
      firstTokenTimeoutMs: 500,
      idleTimeoutMs: 2_000,
      answerTimeoutMs: 2_000,
      fetch: (url, init) => urlGuard.request(url, init),
    }),
    tokens: gptTokenCounter,
    clock: systemClock,
    newId,
    newUuid,
    usageRecorded: () => undefined,
    historyMessages: 20,
    checkpointIntervalMs: 50,
    maxCompletionTokens: 4_096,
  };
});

afterAll(async () => {
  await mongo?.connection.db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
  await upstream?.close();
  await urlGuard.close();
});

/** A tenant of its own whose provider has the given keys. */
const tenantWithKeys = async (keys: string[]) => {
  const tenantId = `tenant-${newUuid()}`;
  await providers.ensureEnvironmentProvider({ tenantId, baseUrl: upstream.url, keys, models: [{ id: "demo-echo", name: "demo-echo" }] });
  return sessionCaller({ tenantId, userId: newId(), role: "user" });
};
const collect = async (events: AsyncIterable<SendEvent>) => {
  const out: SendEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
};

describe("upstream providers", () => {
  it("keeps API keys encrypted at rest and re-encrypts them after a keyring rotation", async () => {
    const { tenantId } = await tenantWithKeys(["sk-secret-one", "sk-secret-two"]);
    const raw = await mongo.connection.collection("upstream_providers").findOne({ tenantId });
    expect(JSON.stringify(raw)).not.toContain("sk-secret");
    expect((raw!.keys as Array<{ box: string }>).every((key) => key.box.startsWith("v1:k1:"))).toBe(true);

    // A new current key first, the old one still listed for decryption.
    const second = await connectMongo(mongoUrl, logger);
    try {
      const rotated = createMongoProviderRepository(second.connection, createSecretBox(`${keyring("k2")},${firstKey}`), grantedEverywhere, uncached);
      expect(await rotated.reencryptStaleKeys()).toBeGreaterThan(0);
      const after = await mongo.connection.collection("upstream_providers").findOne({ tenantId });
      expect((after!.keys as Array<{ box: string }>).every((key) => key.box.startsWith("v1:k2:"))).toBe(true);
      expect((await rotated.providersFor(tenantId))[0]!.keys.map((key) => key.secret)).toEqual(["sk-secret-one", "sk-secret-two"]);
    } finally {
      await second.close();
    }
  });

  it("lets a tenant's admins manage its providers, keys write-only, the environment's one read-only", async () => {
    const environment = await tenantWithKeys(["env-key-123456"]);
    const management = providerManagement({ providers, urlGuard, clock: systemClock, newId });
    const admin = sessionCaller({ tenantId: environment.tenantId, userId: "admin", role: "admin" });
    const [fromEnvironment] = await management.list(admin);
    await expect(management.delete(admin, fromEnvironment!.id)).rejects.toMatchObject({ status: 409, code: "provider_managed_by_environment" });
    await expect(management.list({ ...admin, role: "user" })).rejects.toMatchObject({ status: 403 });
    await expect(management.save(admin, { id: "", name: "", baseUrl: "ftp://x", models: [], addKeys: [], removeKeyIds: [] })).rejects.toMatchObject({
      status: 400,
      errors: expect.arrayContaining([expect.objectContaining({ field: "baseUrl" })]),
    });

    const saved = await management.save(admin, {
      id: "",
      name: "Second",
      baseUrl: `${upstream.url}/`,
      models: [
        { id: "demo-echo", name: "Echo" },
        { id: "demo-two", name: "" },
      ],
      addKeys: ["admin-key-abcd", "admin-key-wxyz"],
      removeKeyIds: [],
    });
    expect(saved).toMatchObject({
      origin: "admin",
      baseUrl: upstream.url,
      keys: [{ hint: "abcd" }, { hint: "wxyz" }],
      models: [
        { id: "demo-echo", name: "Echo" },
        { id: "demo-two", name: "demo-two" },
      ],
    });
    expect(JSON.stringify(await mongo.connection.collection("upstream_providers").findOne({ _id: saved.id as never }))).not.toContain("admin-key");
    expect((await providers.modelsFor(environment.tenantId)).map((model) => model.id)).toEqual(["demo-echo", "demo-two"]);

    const trimmed = await management.save(admin, {
      id: saved.id,
      name: "Second",
      baseUrl: upstream.url,
      models: [{ id: "demo-two", name: "Two" }],
      addKeys: [],
      removeKeyIds: [saved.keys[0]!.id],
    });
    expect(trimmed.keys.map((key) => key.hint)).toEqual(["wxyz"]);
    await expect(
      management.save(admin, {
        id: saved.id,
        name: "Second",
        baseUrl: upstream.url,
        models: [{ id: "demo-two", name: "Two" }],
        addKeys: [],
        removeKeyIds: [trimmed.keys[0]!.id],
      }),
    ).rejects.toMatchObject({ status: 400 });
    // Another tenant's admin sees none of it.
    expect(await management.list({ ...admin, tenantId: `tenant-${newUuid()}` })).toEqual([]);
    await management.delete(admin, saved.id);
    expect((await management.list(admin)).map((provider) => provider.origin)).toEqual(["environment"]);
  });

  it("spreads requests over healthy keys", async () => {
    const owner = await tenantWithKeys(["spread-a", "spread-b"]);
    for (let index = 0; index < 4; index += 1) {
      for await (const _chunk of deps.llm.stream(
        { tenantId: owner.tenantId, model: "demo-echo", messages: [{ role: "user", content: "hi" }], parameters: {}, stream: index % 2 === 0 },
        new AbortController().signal,
      ));
    }
    expect([upstream.requests["spread-a"], upstream.requests["spread-b"]]).toEqual([2, 2]);
  });

  it("asks for a whole answer when the caller does not stream, with the same chunks as a streamed one", async () => {
    const owner = await tenantWithKeys(["good"]);
    const answer = async (stream: boolean) => {
      const chunks = [];
      for await (const chunk of deps.llm.stream(
        { tenantId: owner.tenantId, model: "demo-echo", messages: [{ role: "user", content: "say it whole" }], parameters: { max_tokens: 3 }, stream },
        new AbortController().signal,
      ))
        chunks.push(chunk);
      return chunks;
    };
    const streamed = await answer(true);
    const whole = await answer(false);
    const text = (chunks: typeof whole) => chunks.map((chunk) => (chunk.type === "delta" ? chunk.text : "")).join("");
    expect(text(whole)).toBe(text(streamed));
    expect(whole.filter((chunk) => chunk.type !== "delta")).toEqual(streamed.filter((chunk) => chunk.type !== "delta"));
    expect(whole).toContainEqual({ type: "finish", reason: "length" });
    expect(whole).toContainEqual({ type: "usage", usage: expect.objectContaining({ completionTokens: 3 }) });
  });

  it("sets aside a key whose whole answer does not come in time and asks the next one", async () => {
    const owner = await tenantWithKeys(["slow", "good"]);
    const before = { slow: upstream.requests.slow ?? 0, good: upstream.requests.good ?? 0 };
    // Keys take turns: of two answers one starts on the slow key, which waits past the 2 s answer timeout.
    for (let index = 0; index < 2; index += 1) {
      const chunks = [];
      for await (const chunk of deps.llm.stream(
        { tenantId: owner.tenantId, model: "demo-echo", messages: [{ role: "user", content: "hi" }], parameters: {}, stream: false },
        new AbortController().signal,
      ))
        chunks.push(chunk);
      expect(chunks[0]).toEqual({ type: "delta", text: "Echo: hi" });
    }
    expect([upstream.requests.slow! - before.slow, upstream.requests.good! - before.good]).toEqual([1, 2]);
  });

  it("answers a clean 503 when every key fails, and releases the reservation of a message that got no answer", async () => {
    const owner = await tenantWithKeys(["fail-401", "fail-429", "fail-500"]);
    await expect(
      collect(
        deps.llm.stream(
          { tenantId: owner.tenantId, model: "demo-echo", messages: [{ role: "user", content: "hi" }], parameters: {}, stream: false },
          new AbortController().signal,
        ) as never,
      ),
    ).rejects.toMatchObject({ code: "upstream_unavailable", status: 503 });

    const chat = await chatManagement(deps).create(owner, {});
    const send = createSendMessage(deps, new ActiveStreams());
    const seen: SendEvent[] = [];
    const failure = await (async () => {
      for await (const event of send(
        owner,
        { chatId: chat.id, content: "anyone there?", clientMessageId: "nobody-1", source: "web" },
        new AbortController().signal,
      ))
        seen.push(event);
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AppError);
    expect(seen.map((event) => event.type)).toEqual(["message"]);
    const reservation = quotaCalls.at(-2)!.split(" ")[1];
    expect(quotaCalls.at(-1)).toBe(`release ${reservation}`);
    const stored = await messages.list(owner, chat.id, { limit: 10 });
    expect(stored.map((message) => [message.role, message.status])).toEqual([
      ["user", "complete"],
      ["assistant", "failed"],
    ]);
    expect(recorded.filter((usage) => usage.messageId === stored[1]!.id)).toEqual([]);
  });
});

describe("stopping", () => {
  it("stops an answer streamed by another process through a stop request of its own", async () => {
    const owner = await tenantWithKeys(["good"]);
    const chat = await chatManagement(deps).create(owner, {});
    // Two replicas: one streams, the other takes the stop call and knows nothing of the stream.
    const streaming = createSendMessage(deps, new ActiveStreams());
    const elsewhere = new ActiveStreams();
    const events: SendEvent[] = [];
    for await (const event of streaming(
      owner,
      { chatId: chat.id, content: "[words=3000]", clientMessageId: "far-1", source: "web" },
      new AbortController().signal,
    )) {
      events.push(event);
      if (event.type === "delta" && events.length === 3) {
        const replyId = (events[0] as Extract<SendEvent, { type: "message" }>).replyMessageId;
        await stopMessage(deps, owner, chat.id, replyId, (id) => elsewhere.stop(id));
      }
    }
    const done = events.at(-1) as Extract<SendEvent, { type: "done" }>;
    expect(done.message.status).toBe("aborted");
    const kept = events
      .filter((event) => event.type === "delta")
      .map((event) => event.text)
      .join("");
    expect(done.message.content).toBe(kept);
    expect(kept.split(" ").length).toBeLessThan(3000);
    expect(done.usage.completionTokens).toBe(gptTokenCounter.countText(kept));
  });
});

describe("usage", () => {
  it("counts tokens with the tokenizer when the upstream reports none", async () => {
    const owner = await tenantWithKeys(["quiet-no-usage"]);
    const chat = await chatManagement(deps).create(owner, {});
    const events = await collect(
      createSendMessage(deps, new ActiveStreams())(
        owner,
        { chatId: chat.id, content: "count these words for me", clientMessageId: "count-1", source: "web" },
        new AbortController().signal,
      ),
    );
    const done = events.at(-1) as Extract<SendEvent, { type: "done" }>;
    expect(done.message.content).toBe("Echo: count these words for me");
    expect(done.usage.completionTokens).toBe(gptTokenCounter.countText("Echo: count these words for me"));
    expect(done.usage.promptTokens).toBe(gptTokenCounter.countPrompt([{ role: "user", content: "count these words for me" }]));
    expect(recorded.filter((usage) => usage.messageId === done.message.id)).toEqual([
      expect.objectContaining({ outcome: "complete", source: "web", usage: expect.objectContaining({ completionTokens: done.usage.completionTokens }) }),
    ]);
  });

  it("reserves the whole prompt, history included, plus the longest answer", async () => {
    const owner = await tenantWithKeys(["good"]);
    const chat = await chatManagement(deps).create(owner, {});
    const send = createSendMessage(deps, new ActiveStreams());
    const long = "a fairly long message about quotas and estimates ".repeat(40);
    for (let index = 0; index < 3; index += 1)
      await collect(send(owner, { chatId: chat.id, content: `${long} ${index}`, clientMessageId: `history-${index}`, source: "web" }, new AbortController().signal));
    await collect(send(owner, { chatId: chat.id, content: "short", clientMessageId: "history-last", source: "web" }, new AbortController().signal));
    const reservation = quotaCalls.filter((call) => call.startsWith("reserve ")).at(-1)!.split(" ")[1]!;
    const history = await messages.list(owner, chat.id, { limit: 100 });
    const last = history.find((message) => message.clientMessageId === "history-last")!;
    const prompt = history.filter((message) => message.seq <= last.seq).map((message) => ({ role: message.role, content: message.content }));
    expect(prompt).toHaveLength(7);
    // The new message alone would be a few tokens; the history makes it hundreds.
    expect(gptTokenCounter.countPrompt(prompt)).toBeGreaterThan(600);
    expect(reservedTokens.get(reservation)).toBe(gptTokenCounter.countPrompt(prompt) + 4_096);
  });

  it("finishes an answer through a short data-store outage: the client gets its done event, the usage is counted once", async () => {
    const owner = await tenantWithKeys(["good"]);
    const chat = await chatManagement(deps).create(owner, {});
    let refusals = 2;
    // The store refuses the first two attempts to finish, as the driver words a restarting server.
    const flaky = {
      ...messages,
      finish: (...args: Parameters<typeof messages.finish>) =>
        refusals-- > 0 ? Promise.reject(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:27027"), { name: "MongoNetworkError" })) : messages.finish(...args),
    };
    const events: SendEvent[] = [];
    for await (const event of createSendMessage({ ...deps, messages: flaky }, new ActiveStreams())(
      owner,
      { chatId: chat.id, content: "[words=5]", clientMessageId: "outage-1", source: "web" },
      new AbortController().signal,
    ))
      events.push(event);
    const done = events.at(-1) as Extract<SendEvent, { type: "done" }>;
    expect(done).toMatchObject({ type: "done", message: { status: "complete" } });
    expect(refusals).toBe(-1);
    expect(recorded.filter((record) => record.messageId === done.message.id)).toHaveLength(1);
    expect(await messages.find(owner, chat.id, done.message.id)).toMatchObject({ status: "complete", content: done.message.content });
  });

  it("closes answers abandoned by a dead process as aborted and counts what they kept, once", async () => {
    const owner = await tenantWithKeys(["good"]);
    const chat = await chatManagement(deps).create(owner, {});
    const createdAt = new Date(Date.now() - 10 * 60_000);
    const reply = {
      id: newId(),
      ...{ tenantId: owner.tenantId, userId: owner.userId },
      chatId: chat.id,
      clientMessageId: "lost#reply",
      seq: 2,
      role: "assistant" as const,
      content: "",
      model: "demo-echo",
      status: "streaming" as const,
      promptTokens: 0,
      completionTokens: 0,
      createdAt,
    };
    await messages.insertReply({ message: reply, reservationId: "reservation-lost", source: "api", estimatedPromptTokens: 12 });
    await messages.checkpoint(reply.id, "half an answer", createdAt);

    expect(await recoverAbandonedReplies(deps, 60_000)).toBeGreaterThanOrEqual(1);
    expect(await recoverAbandonedReplies(deps, 60_000)).toBe(0);
    const stored = await messages.find(owner, chat.id, reply.id);
    expect(stored).toMatchObject({
      status: "aborted",
      content: "half an answer",
      promptTokens: 12,
      completionTokens: gptTokenCounter.countText("half an answer"),
    });
    expect(recorded.filter((record) => record.messageId === reply.id)).toEqual([
      expect.objectContaining({ outcome: "aborted", source: "api", reservationId: "reservation-lost" }),
    ]);
  });
});
