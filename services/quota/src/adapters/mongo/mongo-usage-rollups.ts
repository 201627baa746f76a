import { Schema, type Connection, type mongo } from "mongoose";
import { guarded } from "./mongo-outage.ts";
import type { RollupDelta, UsageRollups, UserDayRow } from "../../domain/ports.ts";
import { emptyDayUsage, type DayUsage, type ModelUsage, type UserDay } from "../../domain/usage.ts";

interface RollupDocument {
  _id: string;
  tenantId: string;
  userId: string;
  day: string;
  messages: number;
  tokens: number;
  /** Per model, keyed by an escaped model name (field names cannot hold "." or start with "$"). */
  models: Record<string, ModelUsage>;
  /** The last journal written into this rollup: the guard that makes each journal's $inc happen once. */
  journal: string;
  /** Usage keys of that journal's events (recognised after the live counters are lost). */
  recentKeys: string[];
  updatedAt: Date;
}

const rollupSchema = new Schema<RollupDocument>(
  {
    _id: { type: String, required: true },
    tenantId: { type: String, required: true },
    userId: { type: String, required: true },
    day: { type: String, required: true },
    messages: { type: Number, default: 0 },
    tokens: { type: Number, default: 0 },
    models: { type: Schema.Types.Mixed, default: {} },
    journal: { type: String, default: "" },
    recentKeys: { type: [String], default: [] },
    updatedAt: { type: Date },
  },
  { collection: "quota_usage_rollups", versionKey: false, minimize: false },
);
rollupSchema.index({ tenantId: 1, day: 1, userId: 1 });
rollupSchema.index({ tenantId: 1, userId: 1, day: 1 });

export const encodeModelKey = (model: string) => model.replace(/[%.$]/g, (character) => `%${character.charCodeAt(0).toString(16).padStart(2, "0")}`);
export const decodeModelKey = (key: string) => key.replace(/%([0-9a-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

// Tenant ids are slugs and user ids hex, so "/" cannot be ambiguous (PostgreSQL-backed servers reject NUL).
const rollupId = (key: UserDay) => `${key.tenantId}/${key.userId}/${key.day}`;

const isDuplicateKey = (error: unknown) => (error as { code?: number }).code === 11000;

function toUsage(document: Pick<RollupDocument, "messages" | "tokens" | "models"> & { recentKeys?: string[] }): DayUsage {
  const byModel: Record<string, ModelUsage> = {};
  for (const [key, counts] of Object.entries(document.models ?? {}))
    byModel[decodeModelKey(key)] = { messages: counts.messages ?? 0, tokens: counts.tokens ?? 0 };
  return { messages: document.messages ?? 0, tokens: document.tokens ?? 0, byModel, recentKeys: document.recentKeys ?? [] };
}

/** Rollups written by each flush at once (bounded so a flush does not queue up the whole pool). */
const FLUSH_CONCURRENCY = 16;

/**
 * Daily rollups in MongoDB (or FerretDB v1). A flush writes each user-day it touches with one
 * upsert guarded by the journal id (`journal: {$ne: id}` + `$inc`), so writing a journal again
 * (a crash between the write and closing the journal) changes nothing. Journals are written one
 * at a time, in order, by the single active consumer, so no two updates of one rollup race
 * (FerretDB v1 loses concurrent updates of one document, pinned by a test).
 */
export function createMongoUsageRollups(connection: Connection): UsageRollups & { ready(): Promise<void> } {
  const Rollup = connection.model<RollupDocument>("QuotaUsageRollup", rollupSchema);
  const rollupCollection = Rollup.collection as unknown as mongo.Collection<RollupDocument>;

  const writeDelta = async (journalId: string, delta: RollupDelta): Promise<void> => {
    const { key } = delta;
    const id = rollupId(key);
    const inc: Record<string, number> = { messages: delta.messages, tokens: delta.tokens };
    for (const [model, counts] of Object.entries(delta.byModel)) {
      inc[`models.${encodeModelKey(model)}.messages`] = counts.messages;
      inc[`models.${encodeModelKey(model)}.tokens`] = counts.tokens;
    }
    try {
      // The driver's collection, not the model: the update is already in stored form, and the
      // model's casting and cloning cost about as much CPU as the write itself.
      await rollupCollection.updateOne(
        { _id: id, journal: { $ne: journalId } },
        {
          $inc: inc,
          $set: { journal: journalId, recentKeys: delta.usageKeys, updatedAt: new Date() },
          $setOnInsert: { tenantId: key.tenantId, userId: key.userId, day: key.day },
        },
        { upsert: true },
      );
    } catch (error) {
      // The guard did not match an existing rollup, so the upsert collided with it: it holds this
      // journal already. Anything else is a failure.
      if (!isDuplicateKey(error)) throw error;
      if (!(await Rollup.exists({ _id: id, journal: journalId }))) throw error;
    }
  };

  return {
    ready: async () => {
      await Rollup.createCollection().catch(() => undefined);
      await Rollup.syncIndexes();
    },

    applyJournal: (journal) =>
      guarded(async () => {
        const queue = [...journal.deltas];
        const worker = async () => {
          for (let delta = queue.shift(); delta; delta = queue.shift()) await writeDelta(journal.id, delta);
        };
        await Promise.all(Array.from({ length: Math.min(FLUSH_CONCURRENCY, queue.length) }, worker));
      }),

    read: (key) =>
      guarded(async () => {
        const document = await Rollup.findById(rollupId(key)).lean<RollupDocument>();
        return document ? toUsage(document) : emptyDayUsage();
      }),

    series: (tenantId, userId, from, to) =>
      guarded(async () => {
        const documents = await Rollup.find({ tenantId, userId, day: { $gte: from, $lte: to } }, { recentKeys: 0 })
          .sort({ day: 1 })
          .lean<RollupDocument[]>();
        return documents.map((document) => ({ day: document.day, usage: toUsage(document) }));
      }),

    dayPage: (tenantId, day, limit, afterUserId) =>
      guarded(async () => {
        const filter = afterUserId === null ? { tenantId, day } : { tenantId, day, userId: { $gt: afterUserId } };
        const documents = await Rollup.find(filter, { userId: 1, messages: 1, tokens: 1 })
          .sort({ userId: 1 })
          .limit(limit + 1)
          .lean<RollupDocument[]>();
        const rows: UserDayRow[] = documents
          .slice(0, limit)
          .map((document) => ({ tenantId, userId: document.userId, day, messages: document.messages ?? 0, tokens: document.tokens ?? 0 }));
        return { rows, hasMore: documents.length > limit };
      }),

    // One accumulator per $group: FerretDB v1 answers 0 for a second $sum in the same stage.
    dayTotals: (tenantId, day) =>
      guarded(async () => {
        const sum = async (field: "messages" | "tokens") => {
          const [row] = await Rollup.aggregate<{ total: number }>([{ $match: { tenantId, day } }, { $group: { _id: null, total: { $sum: `$${field}` } } }]);
          return row?.total ?? 0;
        };
        const [messages, tokens] = await Promise.all([sum("messages"), sum("tokens")]);
        return { messages, tokens };
      }),

    // Summed here rather than with $group: FerretDB v1 computes one accumulator per stage.
    modelTotals: (tenantId, from, to) =>
      guarded(async () => {
        const totals = new Map<string, ModelUsage>();
        const cursor = Rollup.find({ tenantId, day: { $gte: from, $lte: to } }, { models: 1 })
          .lean<RollupDocument[]>()
          .cursor();
        for await (const document of cursor) {
          for (const [key, counts] of Object.entries((document as unknown as RollupDocument).models ?? {})) {
            const model = decodeModelKey(key);
            const sum = totals.get(model) ?? { messages: 0, tokens: 0 };
            totals.set(model, { messages: sum.messages + (counts.messages ?? 0), tokens: sum.tokens + (counts.tokens ?? 0) });
          }
        }
        return totals;
      }),

    // One equality per day, not an $in: FerretDB v1 hands PostgreSQL no $in, so it would be given
    // every rollup ever written to filter itself; an equality is filtered in PostgreSQL's scan.
    rowsOfDays: async function* (days) {
      for (const day of days) {
        const cursor = Rollup.find({ day }).sort({ _id: 1 }).lean<RollupDocument[]>().cursor();
        for await (const document of cursor) {
          const row = document as unknown as RollupDocument;
          yield { tenantId: row.tenantId, userId: row.userId, day: row.day, usage: toUsage(row) };
        }
      }
    },
  };
}
