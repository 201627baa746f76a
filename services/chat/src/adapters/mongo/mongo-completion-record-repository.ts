import type { Connection } from "@tessera/platform";
import { Schema } from "mongoose";
import type { CompletionRecordRepository, OutboxStore } from "../../domain/ports.ts";
import { mongoOutboxStore, outboxSchema, toOutboxDocument } from "./mongo-outbox.ts";

const completionSchema = new Schema(
  {
    _id: { type: String, required: true },
    tenantId: { type: String, required: true },
    userId: { type: String, required: true },
    model: { type: String, required: true },
    createdAt: { type: Date, required: true },
    outbox: { type: outboxSchema, required: true },
  },
  { versionKey: false, collection: "api_completions" },
);
completionSchema.index({ "outbox.pending": 1, "outbox.leaseUntil": 1 }, { name: "outbox_pending" });
completionSchema.index({ tenantId: 1, userId: 1, createdAt: -1 }, { name: "owner_recent" });

/** API completions: no content is kept, only who used which model and the usage event (its outbox). */
export function createMongoCompletionRecordRepository(connection: Connection): CompletionRecordRepository & { ready(): Promise<unknown>; outbox: OutboxStore } {
  const Completions = connection.model("ApiCompletion", completionSchema);
  return {
    ready: () => Completions.init(),
    async record(usage) {
      await Completions.create({
        _id: usage.messageId,
        tenantId: usage.tenantId,
        userId: usage.userId,
        model: usage.model,
        createdAt: usage.occurredAt,
        outbox: toOutboxDocument(usage),
      });
    },
    outbox: mongoOutboxStore(Completions),
  };
}
