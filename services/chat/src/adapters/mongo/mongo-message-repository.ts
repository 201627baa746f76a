import type { Connection } from "@tessera/platform";
import { Schema } from "mongoose";
import type { ChatMessage, Owner } from "../../domain/chat.ts";
import type { MessageRepository, PendingReply, UsageRecorder } from "../../domain/ports.ts";

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
    // While streaming: the last save, what recovery needs.
    checkpointedAt: { type: Date, default: null },
    reservationId: { type: String, default: null },
    source: { type: String, default: null },
    estimatedPromptTokens: { type: Number, default: 0 },
    finishedAt: { type: Date, default: null },
  },
  { versionKey: false, collection: "messages" },
);
// One message per client id in a chat: a retried send finds the stored one.
messageSchema.index({ chatId: 1, clientMessageId: 1 }, { unique: true, name: "chat_client_message" });
messageSchema.index({ tenantId: 1, userId: 1, chatId: 1, seq: 1 }, { name: "owner_chat_seq" });
messageSchema.index({ chatId: 1, seq: 1 }, { unique: true, name: "chat_seq_unique" });

/**
 * Answers being written, one small record each (inserted with the answer, deleted when it is
 * finished), so finding answers abandoned by a dead process reads what is in flight, never the
 * stored messages (FerretDB v1 serves no filter from an index). `heartbeatAt` follows the
 * answer's checkpoints at most every HEARTBEAT_MS.
 */
const streamingSchema = new Schema(
  {
    _id: { type: String, required: true },
    heartbeatAt: { type: Date, required: true },
  },
  { versionKey: false, collection: "streaming_replies" },
);
const HEARTBEAT_MS = 10_000;

/**
 * Stop requests for answers being written, one record each, set by whichever replica took the
 * stop (or deleted the chat) and read by the one streaming at its checkpoints and when it
 * finishes. Not a flag on the message: FerretDB v1 applies an update by reading and rewriting the
 * whole document, so a checkpoint saving the answer at that moment would write the flag away.
 */
const stopRequestSchema = new Schema(
  {
    _id: { type: String, required: true },
    requestedAt: { type: Date, required: true },
    // The answer's chat was deleted: the answer goes once it is finished (and counted).
    chatDeleted: { type: Boolean, default: false },
  },
  { versionKey: false, collection: "stop_requests" },
);

interface StopRequestDocument {
  _id: string;
  requestedAt: Date;
  chatDeleted: boolean;
}

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
  checkpointedAt: Date | null;
  reservationId: string | null;
  source: PendingReply["source"] | null;
  estimatedPromptTokens: number;
  finishedAt: Date | null;
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

/** Messages in MongoDB; a finished answer's usage goes to the usage recorder. */
export function createMongoMessageRepository(
  connection: Connection,
  usage: UsageRecorder,
): MessageRepository & {
  ready(): Promise<unknown>;
  deleteChat(owner: Owner, chatId: string): Promise<void>;
} {
  const Messages = connection.model<MessageDocument>("Message", messageSchema);
  const Streaming = connection.model<{ _id: string; heartbeatAt: Date }>("StreamingReply", streamingSchema);
  const StopRequests = connection.model<StopRequestDocument>("StopRequest", stopRequestSchema);
  const heartbeats = new Map<string, number>();
  const scoped = (owner: Owner, chatId: string) => ({ tenantId: owner.tenantId, userId: owner.userId, chatId });
  return {
    ready: () => Promise.all([Messages.init(), Streaming.init(), StopRequests.init()]),
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
      await Streaming.create({ _id: id, heartbeatAt: rest.createdAt });
      heartbeats.set(id, rest.createdAt.getTime());
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
      const last = heartbeats.get(id);
      if (last === undefined || now.getTime() - last >= HEARTBEAT_MS || now.getTime() < last) {
        heartbeats.set(id, now.getTime());
        await Streaming.updateOne({ _id: id }, { $set: { heartbeatAt: now } });
      }
      const [, stop] = await Promise.all([
        Messages.updateOne({ _id: id, status: "streaming" }, { $set: { content, checkpointedAt: now } }),
        StopRequests.exists({ _id: id }),
      ]);
      return { stopRequested: stop !== null };
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
      if (doc.status === "streaming")
        await StopRequests.create({ _id: doc._id, requestedAt: new Date() }).catch((error: unknown) => {
          if (!isDuplicateKey(error)) throw error;
        });
      return true;
    },
    async finish(id, reply, usageRecord) {
      const set: Record<string, unknown> = {
        status: reply.status,
        content: reply.content,
        promptTokens: reply.usage.promptTokens,
        completionTokens: reply.usage.completionTokens,
        finishedAt: reply.finishedAt,
        checkpointedAt: reply.finishedAt,
      };
      const updated = await Messages.updateOne({ _id: id, status: "streaming" }, { $set: set });
      if (updated.matchedCount === 0) return false;
      // Only the process that finished the answer records its usage: it is counted once.
      if (usageRecord) await usage.record(usageRecord);
      heartbeats.delete(id);
      const [stop] = await Promise.all([StopRequests.findOneAndDelete({ _id: id }).lean<StopRequestDocument>(), Streaming.deleteOne({ _id: id })]);
      if (stop?.chatDeleted) await Messages.deleteOne({ _id: id });
      return true;
    },
    async findAbandoned(before, limit) {
      // Stop requests outliving their answer (it finished as the stop came): as few as such races.
      // An answer finished in a chat deleted at that moment goes with its request.
      const leftover = await StopRequests.find({ requestedAt: { $lt: before } }).lean<StopRequestDocument[]>();
      // One _id equality each: FerretDB v1 pushes no $in down, and would read every message.
      await Promise.all(
        leftover.map(async (request) => {
          if (await Messages.exists({ _id: request._id, status: "streaming" })) return;
          if (request.chatDeleted) await Messages.deleteOne({ _id: request._id });
          await StopRequests.deleteOne({ _id: request._id });
        }),
      );
      const stale = (await Streaming.find({}).lean<Array<{ _id: string; heartbeatAt: Date }>>()).filter((entry) => entry.heartbeatAt < before).slice(0, limit);
      if (stale.length === 0) return [];
      // One equality per id, not an $in: FerretDB v1 hands PostgreSQL no $in, so it would be
      // given every stored message to filter; an equality is filtered in PostgreSQL's scan.
      const docs = await Promise.all(stale.map((entry) => Messages.findOne({ _id: entry._id }).lean<MessageDocument>()));
      const streaming = docs.filter((doc): doc is MessageDocument => doc !== null && doc.status === "streaming");
      // Records of answers finished meanwhile (or never stored) are dropped.
      const done = stale.map((entry) => entry._id).filter((id) => !streaming.some((doc) => doc._id === id));
      if (done.length > 0) await Streaming.deleteMany({ _id: { $in: done } });
      return streaming.map((doc) => ({
        message: toMessage(doc),
        reservationId: doc.reservationId ?? "",
        source: doc.source ?? "web",
        estimatedPromptTokens: doc.estimatedPromptTokens,
        checkpointedAt: doc.checkpointedAt ?? doc.createdAt,
      }));
    },
    async deleteChat(owner, chatId) {
      await Messages.deleteMany({ ...scoped(owner, chatId), status: { $ne: "streaming" } });
      // Answers still being written are told to stop, and go once they are finished (and counted).
      const streaming = await Messages.find(scoped(owner, chatId), { _id: 1 }).lean<Array<{ _id: string }>>();
      const requestedAt = new Date();
      await Promise.all(
        streaming.map(({ _id }) =>
          StopRequests.updateOne({ _id }, { $set: { chatDeleted: true }, $setOnInsert: { requestedAt } }, { upsert: true }).catch((error: unknown) => {
            // A stop request inserted at the same moment: mark it instead.
            if (!isDuplicateKey(error)) throw error;
            return StopRequests.updateOne({ _id }, { $set: { chatDeleted: true } });
          }),
        ),
      );
    },
  };
}
