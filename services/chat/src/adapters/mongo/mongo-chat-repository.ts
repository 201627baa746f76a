import { createKeyedSerializer, type Connection } from "@tessera/platform";
import { Schema } from "mongoose";
import type { Chat } from "../../domain/chat.ts";
import type { ChatRepository } from "../../domain/ports.ts";

// FerretDB v1 implements findAndModify without projections, so none is used with findOneAndUpdate.
const chatSchema = new Schema(
  {
    _id: { type: String, required: true },
    tenantId: { type: String, required: true },
    userId: { type: String, required: true },
    title: { type: String, required: true },
    model: { type: String, required: true },
    lastSeq: { type: Number, default: 0 },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false, collection: "chats" },
);
chatSchema.index({ tenantId: 1, userId: 1, updatedAt: -1, _id: -1 }, { name: "owner_recent" });

type ChatDocument = Omit<Chat, "id"> & { _id: string; lastSeq: number };
const toChat = ({ _id, lastSeq: _lastSeq, ...rest }: ChatDocument): Chat => ({ id: _id, ...rest });

const encodeCursor = (chat: Chat) => Buffer.from(JSON.stringify([chat.updatedAt.toISOString(), chat.id])).toString("base64url");
function decodeCursor(cursor: string): { updatedAt: Date; id: string } | null {
  try {
    const [updatedAt, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as [string, string];
    const date = new Date(updatedAt);
    return typeof id === "string" && !Number.isNaN(date.getTime()) ? { updatedAt: date, id } : null;
  } catch {
    return null;
  }
}

export function createMongoChatRepository(
  connection: Connection,
  onDeleted: (owner: { tenantId: string; userId: string }, chatId: string) => Promise<void>,
): ChatRepository & { ready(): Promise<unknown> } {
  const Chats = connection.model<ChatDocument>("Chat", chatSchema);
  const serialised = createKeyedSerializer();
  return {
    ready: () => Chats.init(),
    countOwned: (owner) => Chats.countDocuments({ tenantId: owner.tenantId, userId: owner.userId }),
    async create(chat) {
      const { id, ...rest } = chat;
      await Chats.create({ _id: id, ...rest, lastSeq: 0 });
    },
    async find(owner, id) {
      const doc = await Chats.findOne({ _id: id, tenantId: owner.tenantId, userId: owner.userId }).lean<ChatDocument>();
      return doc ? toChat(doc) : null;
    },
    async list(owner, limit, cursor) {
      const after = cursor ? decodeCursor(cursor) : null;
      const filter: Record<string, unknown> = { tenantId: owner.tenantId, userId: owner.userId };
      if (after) filter.$or = [{ updatedAt: { $lt: after.updatedAt } }, { updatedAt: after.updatedAt, _id: { $lt: after.id } }];
      const docs = await Chats.find(filter)
        .sort({ updatedAt: -1, _id: -1 })
        .limit(limit + 1)
        .lean<ChatDocument[]>();
      const items = docs.slice(0, limit).map(toChat);
      return { items, nextCursor: docs.length > limit && items.length > 0 ? encodeCursor(items[items.length - 1]!) : "" };
    },
    async update(owner, id, changes, now) {
      const doc = await Chats.findOneAndUpdate(
        { _id: id, tenantId: owner.tenantId, userId: owner.userId },
        { $set: { ...changes, updatedAt: now } },
        { returnDocument: "after" },
      ).lean<ChatDocument>();
      return doc ? toChat(doc) : null;
    },
    async delete(owner, id) {
      const result = await Chats.deleteOne({ _id: id, tenantId: owner.tenantId, userId: owner.userId });
      if (result.deletedCount === 0) return false;
      await onDeleted(owner, id);
      return true;
    },
    // FerretDB v1 loses concurrent $inc on one document, so sequence numbers of a chat are taken
    // one caller at a time in this process; the unique (chatId, seq) index on messages refuses a
    // duplicate that two replicas might still produce, and the client's resend (same
    // clientMessageId) then succeeds.
    takeSequence: (owner, id, count, now) =>
      serialised(id, async () => {
        const doc = await Chats.findOneAndUpdate(
          { _id: id, tenantId: owner.tenantId, userId: owner.userId },
          { $inc: { lastSeq: count }, $set: { updatedAt: now } },
          { returnDocument: "after" },
        ).lean<{ lastSeq: number }>();
        return doc ? doc.lastSeq - count + 1 : null;
      }),
  };
}
