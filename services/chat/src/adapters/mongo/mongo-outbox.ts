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
 * Outbox access for a collection whose documents carry an `outbox` field: a batch is claimed with
 * one read and one conditional update (FerretDB v1 has no transactions). Two replicas claiming the
 * same batch at the same instant may both send it: delivery is at least once and consumers
 * deduplicate by eventId.
 */
export function mongoOutboxStore(model: Model<any>, afterSent?: (eventIds: string[]) => Promise<void>): OutboxStore {
  return {
    async claimPending(limit, leaseMs, now) {
      const docs = await model
        .find({ "outbox.pending": true, "outbox.leaseUntil": { $lte: now } }, { outbox: 1 })
        .limit(limit)
        .lean<Array<{ _id: string; outbox: OutboxDocument }>>();
      if (docs.length === 0) return [];
      await model.updateMany(
        { _id: { $in: docs.map((doc) => doc._id) }, "outbox.leaseUntil": { $lte: now } },
        { $set: { "outbox.leaseUntil": new Date(now.getTime() + leaseMs) } },
      );
      return docs.map((doc) => fromOutboxDocument(doc.outbox));
    },
    async releaseClaims(eventIds) {
      if (eventIds.length > 0)
        await model.updateMany({ "outbox.eventId": { $in: eventIds }, "outbox.pending": true }, { $set: { "outbox.leaseUntil": new Date(0) } });
    },
    async markSent(eventIds, now) {
      if (eventIds.length === 0) return;
      await model.updateMany({ "outbox.eventId": { $in: eventIds } }, { $set: { "outbox.pending": false, "outbox.sentAt": now } });
      await afterSent?.(eventIds);
    },
  };
}
