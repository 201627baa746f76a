import type { Connection } from "@tessera/platform";
import { Schema, type Model } from "mongoose";
import type { OutboxStore, UsageOutbox } from "../../domain/ports.ts";
import type { UsageRecord } from "../../domain/usage.ts";

/** A usage event the broker did not confirm, waiting to be published (its own small collection). */
interface OutboxDocument {
  _id: string;
  leaseUntil: Date;
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

const outboxSchema = new Schema<OutboxDocument>(
  {
    _id: { type: String, required: true },
    leaseUntil: { type: Date, required: true },
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
  { versionKey: false, collection: "usage_outbox" },
);

export function toOutboxDocument(record: UsageRecord, leaseUntil = new Date(0)): OutboxDocument {
  const { usage, eventId, ...rest } = record;
  return { _id: eventId, ...rest, ...usage, leaseUntil };
}

function fromOutboxDocument(doc: OutboxDocument): UsageRecord {
  return {
    eventId: doc._id,
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

const isDuplicateKey = (error: unknown) => (error as { code?: number }).code === 11000;

/**
 * The usage outbox: only events the broker did not confirm are stored, and each is deleted once
 * it is published, so the collection holds what is pending and nothing else. The relay reads it
 * whole, a page at a time (FerretDB v1 serves no filter from an index, so a poll costs what the
 * collection holds: what is pending). Two replicas claiming the same page at the same instant may
 * both send it: delivery is at least once and consumers deduplicate by eventId.
 */
export function createMongoUsageOutbox(connection: Connection): UsageOutbox & OutboxStore & { ready(): Promise<unknown>; model: Model<OutboxDocument> } {
  const Outbox = connection.model<OutboxDocument>("UsageOutbox", outboxSchema);
  return {
    model: Outbox,
    ready: () => Outbox.init(),
    async add(record) {
      try {
        await Outbox.create(toOutboxDocument(record));
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
    },
    async claimPending(limit, leaseMs, now) {
      const docs = (
        await Outbox.find({})
          .limit(limit * 4)
          .lean<OutboxDocument[]>()
      )
        .filter((doc) => doc.leaseUntil <= now)
        .slice(0, limit);
      if (docs.length === 0) return [];
      await Outbox.updateMany({ _id: { $in: docs.map((doc) => doc._id) } }, { $set: { leaseUntil: new Date(now.getTime() + leaseMs) } });
      return docs.map(fromOutboxDocument);
    },
    async releaseClaims(eventIds) {
      if (eventIds.length > 0) await Outbox.updateMany({ _id: { $in: eventIds } }, { $set: { leaseUntil: new Date(0) } });
    },
    async markSent(eventIds) {
      if (eventIds.length > 0) await Outbox.deleteMany({ _id: { $in: eventIds } });
    },
  };
}

interface LegacyOutbox {
  eventId: string;
  pending: boolean;
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

/** Chat's record of one-off data moves already done (one small document each). */
const MIGRATIONS = "chat_migrations";
const LEGACY_OUTBOX_MOVED = "legacy-outbox-moved";

/**
 * Earlier versions kept each usage event in an `outbox` field of its message or API completion
 * record. Events still unsent there are moved into the outbox collection at start, until a start
 * finds none; that is remembered, so later starts read nothing of the stored messages. (FerretDB
 * v1 pushes no filter on a nested field down to PostgreSQL: the search hands it every message,
 * minutes of work at a million.) Not remembered while it still finds some: replicas of the earlier
 * version still running in a rolling upgrade may add entries until they stop.
 */
export async function moveLegacyOutboxEntries(connection: Connection, outbox: UsageOutbox): Promise<number> {
  const migrations = connection.db!.collection<{ _id: string; at: Date }>(MIGRATIONS);
  if (await migrations.findOne({ _id: LEGACY_OUTBOX_MOVED })) return 0;
  let moved = 0;
  for (const name of ["messages", "api_completions"]) {
    const collection = connection.db!.collection<{ _id: string; outbox?: LegacyOutbox }>(name);
    const docs = await collection.find({ "outbox.pending": true }, { projection: { outbox: 1 } }).toArray();
    for (const doc of docs) {
      const legacy = doc.outbox!;
      await outbox.add({
        eventId: legacy.eventId,
        occurredAt: legacy.occurredAt,
        tenantId: legacy.tenantId,
        userId: legacy.userId,
        chatId: legacy.chatId ?? "",
        messageId: legacy.messageId,
        model: legacy.model,
        usage: { promptTokens: legacy.promptTokens, completionTokens: legacy.completionTokens, totalTokens: legacy.totalTokens },
        source: legacy.source,
        outcome: legacy.outcome,
        reservationId: legacy.reservationId,
      });
      await collection.updateOne({ _id: doc._id }, { $unset: { outbox: "" } });
      moved += 1;
    }
  }
  if (moved === 0) await migrations.updateOne({ _id: LEGACY_OUTBOX_MOVED }, { $setOnInsert: { at: new Date() } }, { upsert: true });
  return moved;
}
