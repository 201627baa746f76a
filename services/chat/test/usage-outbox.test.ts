import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mongoose, { type Connection } from "mongoose";
import { newId, newUuid, systemClock } from "@tessera/platform";
import { testInfrastructure } from "@tessera/platform/testing";
import { createMongoMessageRepository } from "../src/adapters/mongo/mongo-message-repository.ts";
import { createMongoUsageOutbox, moveLegacyOutboxEntries } from "../src/adapters/mongo/mongo-usage-outbox.ts";
import { createOutboxRelay } from "../src/application/outbox-relay.ts";
import { createUsageRecorder } from "../src/application/usage-recorder.ts";
import type { UsagePublisher } from "../src/domain/ports.ts";
import type { UsageRecord } from "../src/domain/usage.ts";

// Real MongoDB (FerretDB here), with every command the driver sends observed: background work
// must read what is pending, never what is stored.
let connection: Connection;
const commands: Array<{ name: string; collection: string; filter?: Record<string, unknown> }> = [];

beforeAll(async () => {
  connection = await mongoose.createConnection(testInfrastructure("chat-outbox").mongoUrl, { monitorCommands: true }).asPromise();
  connection.getClient().on("commandStarted", (event) => {
    const collection = event.command[event.commandName];
    const filter = (event.command.filter ?? event.command.query) as Record<string, unknown> | undefined;
    commands.push({ name: event.commandName, collection: typeof collection === "string" ? collection : "", ...(filter && { filter }) });
  });
});
afterAll(async () => {
  await connection?.db?.dropDatabase().catch(() => undefined);
  await connection?.close();
});

const usageRecord = (messageId = newId()): UsageRecord => ({
  eventId: newUuid(),
  occurredAt: new Date(),
  tenantId: "t1",
  userId: "u1",
  chatId: "c1",
  messageId,
  model: "demo",
  usage: { promptTokens: 3, completionTokens: 4, totalTokens: 7 },
  source: "web",
  outcome: "complete",
  reservationId: newUuid(),
});

/** A publisher whose broker can be taken down and brought back. */
function switchablePublisher() {
  const sent: UsageRecord[] = [];
  let up = true;
  const publisher: UsagePublisher = {
    publish: async (record) => {
      if (!up) throw new Error("amqp not connected");
      sent.push(record);
    },
  };
  return { publisher, sent, setUp: (value: boolean) => (up = value) };
}

describe("usage publishing", () => {
  it("publishes on completion without a document write; keeps events in the outbox only while the broker is down", async () => {
    const outbox = createMongoUsageOutbox(connection);
    await outbox.ready();
    const broker = switchablePublisher();
    const relay = createOutboxRelay({ stores: [outbox], publisher: broker.publisher, clock: systemClock, intervalMs: 60_000 });
    const recorder = createUsageRecorder({ publisher: broker.publisher, outbox, publishTimeoutMs: 500, stored: () => undefined, onLost: () => undefined });

    const first = usageRecord();
    commands.length = 0;
    await recorder.record(first);
    expect(broker.sent).toEqual([first]);
    expect(commands).toEqual([]);

    broker.setUp(false);
    const waiting = [usageRecord(), usageRecord(), usageRecord()];
    for (const record of waiting) await recorder.record(record);
    expect(await outbox.model.countDocuments()).toBe(3);
    await expect(relay.drain()).rejects.toThrow(/not connected/);
    expect(await outbox.model.countDocuments()).toBe(3);

    broker.setUp(true);
    expect(await relay.drain()).toBe(3);
    expect(
      broker.sent
        .slice(1)
        .map((record) => record.eventId)
        .sort(),
    ).toEqual(waiting.map((record) => record.eventId).sort());
    // Emptied as it is published.
    expect(await outbox.model.countDocuments()).toBe(0);
  });

  it("a broker that never confirms: the event goes to the outbox after the timeout, and is not lost if the outbox is down too", async () => {
    const outbox = createMongoUsageOutbox(connection);
    const lost: unknown[] = [];
    const hanging: UsagePublisher = { publish: () => new Promise<void>(() => undefined) };
    const recorder = createUsageRecorder({ publisher: hanging, outbox, publishTimeoutMs: 50, stored: () => undefined, onLost: (error) => lost.push(error) });
    const record = usageRecord();
    await recorder.record(record);
    expect(await outbox.model.exists({ _id: record.eventId })).toBeTruthy();
    await outbox.markSent([record.eventId], new Date());

    const failing = createUsageRecorder({
      publisher: hanging,
      outbox: { add: async () => Promise.reject(new Error("database down")) },
      publishTimeoutMs: 50,
      stored: () => undefined,
      onLost: (error) => lost.push(error),
    });
    await expect(failing.record(usageRecord())).resolves.toBeUndefined();
    expect(lost).toHaveLength(1);
  });
});

let stored: Promise<void> | undefined;
/** 20,000 finished answers, once per file (written directly: the repository would take minutes on FerretDB). */
function storeAnswers(): Promise<void> {
  stored ??= (async () => {
    const finishedAt = new Date();
    for (let page = 0; page < 20; page += 1) {
      await connection.db!.collection<{ _id: string }>("messages").insertMany(
        Array.from({ length: 1_000 }, (_, index) => ({
          _id: `stored-${page}-${index}`,
          tenantId: "t1",
          userId: "u1",
          chatId: `chat-${page}`,
          clientMessageId: `client-${index}#reply`,
          seq: index * 2 + 2,
          role: "assistant",
          content: "an answer",
          model: "demo",
          status: "complete",
          promptTokens: 3,
          completionTokens: 2,
          createdAt: finishedAt,
          checkpointedAt: finishedAt,
          finishedAt,
        })),
      );
    }
  })();
  return stored;
}

/**
 * Whether the store filters in its own scan or index rather than handing every document over:
 * FerretDB v1 reports whether it pushed the filter down to PostgreSQL; MongoDB, its winning plan.
 */
async function filteredByTheStore(collection: string, filter: Record<string, unknown>): Promise<boolean> {
  const explained = await connection.db!.command({ explain: { find: collection, filter }, verbosity: "queryPlanner" });
  if ("filterPushdown" in explained) return explained.filterPushdown === true;
  return JSON.stringify(explained.queryPlanner?.winningPlan ?? {}).includes("COLLSCAN") === false;
}

/**
 * Whether the store finds the documents through an index rather than reading the collection: on
 * FerretDB v1 the PostgreSQL plan of the pushed-down filter (deploy/local/ferretdb-gin.sql adds
 * the GIN indexes it can use); on MongoDB, no COLLSCAN in the winning plan.
 */
async function servedByAnIndex(collection: string, filter: Record<string, unknown>): Promise<boolean> {
  const explained = await connection.db!.command({ explain: { find: collection, filter }, verbosity: "queryPlanner" });
  if ("filterPushdown" in explained) return explained.filterPushdown === true && !JSON.stringify(explained.queryPlanner).includes("Seq Scan");
  return !JSON.stringify(explained.queryPlanner?.winningPlan ?? {}).includes("COLLSCAN");
}

describe("the document store reads by index what a request asks of it", () => {
  it("with 20,000 stored answers, a checkpoint, a chat's page of messages and a resend's lookup are served by an index", async () => {
    await createMongoMessageRepository(connection, { record: async () => undefined }).ready();
    await storeAnswers();
    expect(await servedByAnIndex("messages", { _id: "stored-7-42", status: "streaming" })).toBe(true);
    expect(await servedByAnIndex("messages", { tenantId: "t1", userId: "u1", chatId: "chat-7" })).toBe(true);
    expect(await servedByAnIndex("messages", { tenantId: "t1", userId: "u1", chatId: "chat-7", clientMessageId: "client-4#reply" })).toBe(true);
  }, 120_000);
});

describe("background work costs what is pending, never what is stored", () => {
  it("with 20,000 stored answers, the relay and the abandoned-answer sweep read only their small collections", async () => {
    const outbox = createMongoUsageOutbox(connection);
    const recorder = createUsageRecorder({
      publisher: switchablePublisher().publisher,
      outbox,
      publishTimeoutMs: 500,
      stored: () => undefined,
      onLost: () => undefined,
    });
    const messages = createMongoMessageRepository(connection, recorder);
    await Promise.all([messages.ready(), outbox.ready()]);

    await storeAnswers();
    // One answer in flight (fresh) and one abandoned by a dead process.
    const reply = (id: string, seq: number, createdAt: Date) => ({
      message: {
        id,
        tenantId: "t1",
        userId: "u1",
        chatId: "chat-live",
        clientMessageId: `${id}#reply`,
        seq,
        role: "assistant" as const,
        content: "",
        model: "demo",
        status: "streaming" as const,
        promptTokens: 0,
        completionTokens: 0,
        createdAt,
      },
      reservationId: newUuid(),
      source: "web" as const,
      estimatedPromptTokens: 5,
    });
    await messages.insertReply(reply(newId(), 1, new Date()));
    await messages.insertReply(reply(newId(), 3, new Date(Date.now() - 10 * 60_000)));

    const relay = createOutboxRelay({ stores: [outbox], publisher: switchablePublisher().publisher, clock: systemClock, intervalMs: 60_000 });
    commands.length = 0;
    expect(await relay.drain()).toBe(0);
    expect(await messages.findAbandoned(new Date(Date.now() - 60_000), 100)).toEqual([expect.objectContaining({ reservationId: expect.any(String) })]);
    const touched = new Set(commands.map((command) => command.collection));
    // The idle polls read the outbox (empty), the in-flight registry (2 records) and the stop
    // requests (none): nothing of the 20,000 stored messages. Only an answer found stale is then read by its id.
    const messageReads = commands.filter((command) => command.collection === "messages");
    expect(messageReads).toHaveLength(1);
    expect(await filteredByTheStore("messages", messageReads[0]!.filter!)).toBe(true);
    expect([...touched].sort()).toEqual(["messages", "stop_requests", "streaming_replies", "usage_outbox"]);
    expect(await connection.db!.collection("streaming_replies").countDocuments()).toBe(2);

    commands.length = 0;
    for (let poll = 0; poll < 5; poll += 1) {
      await relay.drain();
      await messages.findAbandoned(new Date(Date.now() - 24 * 3600_000), 100);
    }
    expect(new Set(commands.map((command) => command.collection))).toEqual(new Set(["usage_outbox", "streaming_replies", "stop_requests"]));
  }, 120_000);

  it("start-up moves legacy outbox entries until a start finds none; later starts read nothing of the 20,000 stored answers", async () => {
    const outbox = createMongoUsageOutbox(connection);
    await outbox.ready();
    await storeAnswers();
    await connection.db!.collection("chat_migrations").deleteMany({});
    // Unsent events of earlier versions, kept on their message or API completion record.
    const legacy = (messageId: string) => {
      const { usage, ...rest } = usageRecord(messageId);
      return { ...rest, ...usage, pending: true };
    };
    const legacyMessages = [newId(), newId()];
    await connection.db!.collection<{ _id: string }>("messages").insertMany(
      legacyMessages.map((id, index) => ({
        _id: id,
        tenantId: "t1",
        userId: "u1",
        chatId: "chat-old",
        clientMessageId: `old-${index}#reply`,
        seq: index + 1,
        role: "assistant",
        status: "complete",
        outbox: legacy(id),
      })),
    );
    const completion = newId();
    await connection.db!.collection<{ _id: string; outbox: object }>("api_completions").insertOne({ _id: completion, outbox: legacy(completion) });

    expect(await moveLegacyOutboxEntries(connection, outbox)).toBe(3);
    expect(await outbox.model.countDocuments()).toBe(3);
    expect(await connection.db!.collection<{ _id: string }>("messages").countDocuments({ _id: { $in: legacyMessages }, outbox: { $exists: true } })).toBe(0);

    // The next start finds none and remembers it; the one after reads only that record.
    expect(await moveLegacyOutboxEntries(connection, outbox)).toBe(0);
    commands.length = 0;
    expect(await moveLegacyOutboxEntries(connection, outbox)).toBe(0);
    expect(commands.map((command) => command.collection)).toEqual(["chat_migrations"]);
    await outbox.markSent(
      (await outbox.model.find().lean()).map((doc) => doc._id),
      new Date(),
    );
  }, 120_000);
});
