import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mongoose, { type Connection } from "mongoose";
import { newId, newUuid } from "@tessera/platform";
import { testInfrastructure } from "@tessera/platform/testing";
import { createMongoMessageRepository } from "../src/adapters/mongo/mongo-message-repository.ts";
import type { UsageRecord } from "../src/domain/usage.ts";

// Real MongoDB (FerretDB v1 here), which applies an update by reading the whole document and
// writing it back: a checkpoint landing at the moment a chat is deleted rewrites the message as it
// read it. What a deleted chat asks of its answers must survive that.
let connection: Connection;
beforeAll(async () => {
  connection = await mongoose.createConnection(testInfrastructure("chat-messages").mongoUrl).asPromise();
});
afterAll(async () => {
  await connection?.db?.dropDatabase().catch(() => undefined);
  await connection?.close();
});

const owner = { tenantId: "t1", userId: "u1" };
const usage = { promptTokens: 3, completionTokens: 4, totalTokens: 7 };

async function streamingAnswer(repository: ReturnType<typeof createMongoMessageRepository>, chatId: string) {
  const id = newId();
  const createdAt = new Date(Date.now() - 60_000);
  await repository.insertReply({
    message: {
      id,
      ...owner,
      chatId,
      clientMessageId: `${id}-reply`,
      seq: 2,
      role: "assistant",
      content: "",
      model: "demo",
      status: "streaming",
      promptTokens: 0,
      completionTokens: 0,
      createdAt,
      replyTo: newId(),
    },
    reservationId: newUuid(),
    source: "web",
    estimatedPromptTokens: 3,
  });
  await repository.checkpoint(id, "Half an answer", new Date());
  return id;
}

/** What a checkpoint read just before the chat was deleted, written back whole after it. */
async function rewriteAsReadBefore(id: string, read: Record<string, unknown>) {
  await connection.collection("messages").replaceOne({ _id: id as never }, { ...read, content: "Half an answer, and more" });
}

const record = (messageId: string): UsageRecord => ({
  eventId: newUuid(),
  occurredAt: new Date(),
  ...owner,
  chatId: "",
  messageId,
  model: "demo",
  usage,
  source: "web",
  outcome: "aborted",
  reservationId: newUuid(),
});

describe("a chat deleted while its answer is written", () => {
  it("stops the answer and removes it once it is finished and counted, though a checkpoint rewrote it meanwhile", async () => {
    const recorded: UsageRecord[] = [];
    const repository = createMongoMessageRepository(connection, { record: async (usageRecord) => void recorded.push(usageRecord) });
    await repository.ready();
    const chatId = newId();
    const id = await streamingAnswer(repository, chatId);
    const read = await connection.collection("messages").findOne({ _id: id as never });

    await repository.deleteChat(owner, chatId);
    await rewriteAsReadBefore(id, read!);

    expect(await repository.checkpoint(id, "Half an answer, and more", new Date())).toEqual({ stopRequested: true });
    expect(await repository.finish(id, { status: "aborted", content: "Half an answer, and more", usage, finishedAt: new Date() }, record(id))).toBe(true);
    expect(recorded.map((usageRecord) => usageRecord.messageId)).toEqual([id]);
    expect(await connection.collection("messages").countDocuments({ chatId })).toBe(0);
    expect(await connection.collection("stop_requests").countDocuments({ _id: id as never })).toBe(0);
  });

  it("removes an answer that completed as its chat was deleted with the sweep of leftover stop requests", async () => {
    const repository = createMongoMessageRepository(connection, { record: async () => undefined });
    const chatId = newId();
    const id = await streamingAnswer(repository, chatId);
    const writing = await streamingAnswer(repository, newId());
    const writingChat = (await connection.collection("messages").findOne({ _id: writing as never }))!.chatId as string;
    expect(await repository.requestStop(owner, writingChat, writing)).toBe(true);
    // The answer completes between the deletion's look for answers being written and its request.
    await repository.finish(id, { status: "complete", content: "A whole answer", usage, finishedAt: new Date() }, null);
    await connection.collection("stop_requests").insertOne({ _id: id as never, requestedAt: new Date(Date.now() - 120_000), chatDeleted: true });
    await connection.collection("stop_requests").updateOne({ _id: writing as never }, { $set: { requestedAt: new Date(Date.now() - 120_000) } });

    await repository.findAbandoned(new Date(Date.now() - 60_000), 100);

    expect(await connection.collection("messages").countDocuments({ _id: id as never })).toBe(0);
    // A stop request for an answer still being written stays for it.
    expect(await connection.collection("stop_requests").countDocuments({ _id: writing as never })).toBe(1);
    expect(await connection.collection("stop_requests").countDocuments({ _id: id as never })).toBe(0);
  });
});
