import { Schema, type Connection } from "mongoose";
import type { AuditRecord } from "../../domain/audit.ts";
import type { AuditLog } from "../../domain/ports.ts";

interface AuditDocument {
  _id: string;
  at: Date;
  scope: string;
  actorId: string;
  action: string;
  targetType: string;
  targetId: string;
  // JSON text: model names and other keys may hold "." or "$", which field names cannot.
  before: string;
  after: string;
  requestId: string;
}

const auditSchema = new Schema(
  {
    _id: { type: String, required: true },
    at: { type: Date, required: true },
    scope: { type: String, required: true },
    actorId: { type: String, required: true },
    action: { type: String, required: true },
    targetType: { type: String, required: true },
    targetId: { type: String, required: true },
    before: String,
    after: String,
    requestId: String,
  },
  { collection: "audit_log", versionKey: false },
);
auditSchema.index({ scope: 1, at: -1, _id: -1 });
auditSchema.index({ scope: 1, actorId: 1, at: -1 });
auditSchema.index({ scope: 1, action: 1, at: -1 });
auditSchema.index({ scope: 1, targetId: 1, at: -1 });

/** The audit log: append-only, newest first by (at, id). */
export function createMongoAuditLog(connection: Connection): AuditLog & { ready(): Promise<unknown> } {
  const Audit = connection.model<AuditDocument>("AuditEntry", auditSchema);
  return {
    ready: () => Audit.init(),
    async append(record: AuditRecord) {
      await Audit.create({
        _id: record.id,
        at: record.at,
        scope: record.scope,
        actorId: record.actorId,
        action: record.action,
        targetType: record.targetType,
        targetId: record.targetId,
        before: JSON.stringify(record.before ?? null),
        after: JSON.stringify(record.after ?? null),
        requestId: record.requestId,
      });
    },
    async page(scope, filter, limit, position) {
      const query: Record<string, unknown> = { scope };
      if (filter.actorId) query.actorId = filter.actorId;
      if (filter.action) query.action = filter.action;
      if (filter.targetId) query.targetId = filter.targetId;
      if (position) {
        query.at = { $lte: position.asOf };
        query.$or = [{ at: { $lt: position.at } }, { at: position.at, _id: { $lt: position.id } }];
      }
      const documents = await Audit.find(query).sort({ at: -1, _id: -1 }).limit(limit).lean<AuditDocument[]>();
      return documents.map((document) => ({
        id: document._id,
        at: document.at,
        scope: document.scope,
        actorId: document.actorId,
        action: document.action,
        targetType: document.targetType,
        targetId: document.targetId,
        before: JSON.parse(document.before || "null"),
        after: JSON.parse(document.after || "null"),
        requestId: document.requestId ?? "",
      }));
    },
  };
}
