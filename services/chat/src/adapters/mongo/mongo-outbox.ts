import { Schema, type Model } from "mongoose";
import type { OutboxStore } from "../../domain/ports.ts";
import type { UsageRecord } from "../../domain/usage.ts";

/** The usage event as stored inside the document it belongs to (written in the same update). */
export const outboxSchema = new Schema(
  {
    eventId: { type: String, required: true },
    pending: { type: Boolean, required: true },
    leaseUntil: { type: Date, required: true },
    sentAt: { type: Date, default: null },
    occurredAt: { type: Date, required: true },
    tenantId: String,
    userId: String,
    chatId: String,
    messageId: String,
    model: String,
    promptTokens: Number,
    completionTokens: Number,
    totalTokens: Number,
    source: String,
    outcome: String,
    reservationId: String,
  },
  { _id: false, versionKey: false },
);

export interface OutboxDocument {
  eventId: string;
  pending: boolean;
  leaseUntil: Date;
  sentAt: Date | null;
  occurredAt: Date;
  tenantId: string;
  userId: string;
  chatId: string;
  messageId: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  source: UsageRecord["source"];
  outcome: UsageRecord["outcome"];
  reservationId: string;
}

export function toOutboxDocument(record: UsageRecord): OutboxDocument {
  const { usage, ...rest } = record;
  return { ...rest, ...usage, pending: true, leaseUntil: new Date(0), sentAt: null };
}

export function fromOutboxDocument(doc: OutboxDocument): UsageRecord {
  return {
    eventId: doc.eventId,
    occurredAt: doc.occurredAt,
    tenantId: doc.tenantId,
    userId: doc.userId,
    chatId: doc.chatId ?? "",
    messageId: doc.messageId,
    model: doc.model,
    usage: { promptTokens: doc.promptTokens, completionTokens: doc.completionTokens, totalTokens: doc.totalTokens },
    source: doc.source,
    outcome: doc.outcome,
    reservationId: doc.reservationId,
  };
}

/**
 * Outbox access for a collection whose documents carry an `outbox` field. Claims are one
 * findOneAndUpdate each (FerretDB v1 has no multi-document transactions).
 */
export function mongoOutboxStore(model: Model<any>, afterSent?: (eventId: string) => Promise<void>): OutboxStore {
  return {
    async claimPending(limit, leaseMs, now) {
      const claimed: UsageRecord[] = [];
      for (let index = 0; index < limit; index += 1) {
        const doc = await model
          .findOneAndUpdate({ "outbox.pending": true, "outbox.leaseUntil": { $lte: now } }, { $set: { "outbox.leaseUntil": new Date(now.getTime() + leaseMs) } }, { returnDocument: "after" })
          .lean<{ outbox: OutboxDocument }>();
        if (!doc) break;
        claimed.push(fromOutboxDocument(doc.outbox));
      }
      return claimed;
    },
    async releaseClaims(eventIds) {
      if (eventIds.length > 0) await model.updateMany({ "outbox.eventId": { $in: eventIds }, "outbox.pending": true }, { $set: { "outbox.leaseUntil": new Date(0) } });
    },
    async markSent(eventId, now) {
      await model.updateOne({ "outbox.eventId": eventId }, { $set: { "outbox.pending": false, "outbox.sentAt": now } });
      await afterSent?.(eventId);
    },
  };
}
