import type { Connection } from "@tessera/platform";
import { Schema } from "mongoose";
import type { ChatMessage, Owner } from "../../domain/chat.ts";
import type { MessageRepository, OutboxStore, PendingReply } from "../../domain/ports.ts";
import { mongoOutboxStore, outboxSchema, toOutboxDocument, type OutboxDocument } from "./mongo-outbox.ts";

const messageSchema = new Schema(
  {
    _id: { type: String, required: true },
    tenantId: { type: String, required: true },
    userId: { type: String, required: true },
    chatId: { type: String, required: true },
    clientMessageId: { type: String, required: true },
    seq: { type: Number, required: true },
    role: { type: String, required: true },
    content: { type: String, default: "" },
    model: { type: String, default: "" },
    status: { type: String, required: true },
    promptTokens: { type: Number, default: 0 },
    completionTokens: { type: Number, default: 0 },
    createdAt: { type: Date, required: true },
    replyTo: { type: String, default: null },
    // While streaming: the stop flag (set by any replica), the last save, what recovery needs.
    stopRequested: { type: Boolean, default: false },
    checkpointedAt: { type: Date, default: null },
    reservationId: { type: String, default: null },
    source: { type: String, default: null },
    estimatedPromptTokens: { type: Number, default: 0 },
    finishedAt: { type: Date, default: null },
    outbox: { type: outboxSchema, default: undefined },
    // The chat was deleted while this message's usage event was unsent: removed once it is sent.
    chatDeleted: { type: Boolean, default: false },
  },
  { versionKey: false, collection: "messages" },
);
// One message per client id in a chat: a retried send finds the stored one.
messageSchema.index({ chatId: 1, clientMessageId: 1 }, { unique: true, name: "chat_client_message" });
messageSchema.index({ tenantId: 1, userId: 1, chatId: 1, seq: 1 }, { name: "owner_chat_seq" });
messageSchema.index({ chatId: 1, seq: 1 }, { unique: true, name: "chat_seq_unique" });
messageSchema.index({ "outbox.pending": 1, "outbox.leaseUntil": 1 }, { name: "outbox_pending" });
messageSchema.index({ status: 1, checkpointedAt: 1 }, { name: "status_checkpoint" });

interface MessageDocument {
  _id: string;
  tenantId: string;
  userId: string;
  chatId: string;
  clientMessageId: string;
  seq: number;
  role: ChatMessage["role"];
  content: string;
  model: string;
  status: ChatMessage["status"];
  promptTokens: number;
  completionTokens: number;
  createdAt: Date;
  replyTo: string | null;
  stopRequested: boolean;
  checkpointedAt: Date | null;
  reservationId: string | null;
  source: PendingReply["source"] | null;
  estimatedPromptTokens: number;
  finishedAt: Date | null;
  outbox?: OutboxDocument;
  chatDeleted: boolean;
}

const PUBLIC_FIELDS = {
  _id: 1,
  tenantId: 1,
  userId: 1,
  chatId: 1,
  clientMessageId: 1,
  seq: 1,
  role: 1,
  content: 1,
  model: 1,
  status: 1,
  promptTokens: 1,
  completionTokens: 1,
  createdAt: 1,
  replyTo: 1,
};

const toMessage = (doc: MessageDocument): ChatMessage => ({
  id: doc._id,
  tenantId: doc.tenantId,
  userId: doc.userId,
  chatId: doc.chatId,
  clientMessageId: doc.clientMessageId,
  seq: doc.seq,
  role: doc.role,
  content: doc.content,
  model: doc.model,
  status: doc.status,
  promptTokens: doc.promptTokens,
  completionTokens: doc.completionTokens,
  createdAt: doc.createdAt,
  replyTo: doc.replyTo ?? undefined,
});

const isDuplicateKey = (error: unknown) => (error as { code?: number }).code === 11000;

export function createMongoMessageRepository(connection: Connection): MessageRepository & {
  ready(): Promise<unknown>;
  outbox: OutboxStore;
  deleteChat(owner: Owner, chatId: string): Promise<void>;
} {
  const Messages = connection.model<MessageDocument>("Message", messageSchema);
  const scoped = (owner: Owner, chatId: string) => ({ tenantId: owner.tenantId, userId: owner.userId, chatId });
  return {
    ready: () => Messages.init(),
    async findByClientId(owner, chatId, clientMessageId) {
      const doc = await Messages.findOne({ ...scoped(owner, chatId), clientMessageId }, PUBLIC_FIELDS).lean<MessageDocument>();
      return doc ? toMessage(doc) : null;
    },
    async insertUserMessage(message) {
      const { id, replyTo: _replyTo, ...rest } = message;
      try {
        await Messages.create({ _id: id, ...rest });
        return "inserted";
      } catch (error) {
        if (isDuplicateKey(error)) return "duplicate";
        throw error;
      }
    },
    async insertReply(reply) {
      const { id, ...rest } = reply.message;
      await Messages.create({
        _id: id,
        ...rest,
        reservationId: reply.reservationId,
        source: reply.source,
        estimatedPromptTokens: reply.estimatedPromptTokens,
        checkpointedAt: rest.createdAt,
      });
    },
    async find(owner, chatId, id) {
      const doc = await Messages.findOne({ ...scoped(owner, chatId), _id: id }, PUBLIC_FIELDS).lean<MessageDocument>();
      return doc ? toMessage(doc) : null;
    },
    async list(owner, chatId, page) {
      const filter: Record<string, unknown> = scoped(owner, chatId);
      if (page.after !== undefined) {
        filter.seq = { $gt: page.after };
        const docs = await Messages.find(filter, PUBLIC_FIELDS).sort({ seq: 1 }).limit(page.limit).lean<MessageDocument[]>();
        return docs.map(toMessage);
      }
      if (page.before !== undefined) filter.seq = { $lt: page.before };
      const docs = await Messages.find(filter, PUBLIC_FIELDS).sort({ seq: -1 }).limit(page.limit).lean<MessageDocument[]>();
      return docs.reverse().map(toMessage);
    },
    async checkpoint(id, content, now) {
      const doc = await Messages.findOneAndUpdate(
        { _id: id, status: "streaming" },
        { $set: { content, checkpointedAt: now } },
        { returnDocument: "after" },
      ).lean<{ stopRequested: boolean }>();
      return { stopRequested: doc?.stopRequested ?? false };
    },
    async requestStop(owner, chatId, messageId) {
      const doc = await Messages.findOne(
        { ...scoped(owner, chatId), $or: [{ _id: messageId }, { replyTo: messageId }], role: "assistant" },
        { _id: 1, status: 1 },
      ).lean<{ _id: string; status: string }>();
      if (!doc) {
        // A user message whose answer is already gone is still "found" (nothing to stop).
        return (await Messages.countDocuments({ ...scoped(owner, chatId), _id: messageId })) > 0;
      }
      if (doc.status === "streaming") await Messages.updateOne({ _id: doc._id, status: "streaming" }, { $set: { stopRequested: true } });
      return true;
    },
    async finish(id, reply, usage) {
      const set: Record<string, unknown> = {
        status: reply.status,
        content: reply.content,
        promptTokens: reply.usage.promptTokens,
        completionTokens: reply.usage.completionTokens,
        finishedAt: reply.finishedAt,
        checkpointedAt: reply.finishedAt,
      };
      // The answer and its usage event in one document write: both or neither.
      if (usage) set.outbox = toOutboxDocument(usage);
      const result = await Messages.updateOne({ _id: id, status: "streaming" }, { $set: set });
      return result.modifiedCount === 1;
    },
    async findAbandoned(before, limit) {
      const docs = await Messages.find({ status: "streaming", checkpointedAt: { $lt: before } })
        .limit(limit)
        .lean<MessageDocument[]>();
      return docs.map((doc) => ({
        message: toMessage(doc),
        reservationId: doc.reservationId ?? "",
        source: doc.source ?? "web",
        estimatedPromptTokens: doc.estimatedPromptTokens,
        checkpointedAt: doc.checkpointedAt ?? doc.createdAt,
      }));
    },
    outbox: mongoOutboxStore(Messages, async (eventIds) => {
      await Messages.deleteMany({ "outbox.eventId": { $in: eventIds }, chatDeleted: true });
    }),
    async deleteChat(owner, chatId) {
      // Messages whose usage event is not on the bus yet (or still being written) stay, hidden, until it is.
      await Messages.deleteMany({ ...scoped(owner, chatId), status: { $ne: "streaming" }, "outbox.pending": { $ne: true } });
      await Messages.updateMany(scoped(owner, chatId), { $set: { chatDeleted: true, content: "" } });
    },
  };
}
