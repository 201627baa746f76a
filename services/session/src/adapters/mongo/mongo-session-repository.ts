import type { Connection } from "@tessera/platform";
import { Schema } from "mongoose";
import type { SessionRepository } from "../../domain/ports.ts";
import type { Session } from "../../domain/session.ts";

const sessionSchema = new Schema(
  {
    _id: { type: String, required: true },
    tenantId: { type: String, required: true },
    userId: { type: String, required: true },
    role: { type: String, required: true },
    deviceInfo: { type: String, default: "" },
    ip: { type: String, default: "" },
    rememberMe: { type: Boolean, default: false },
    createdAt: { type: Date, required: true },
    lastUsedAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    refreshHash: { type: String, required: true },
    previousRefreshHash: { type: String, default: null },
    rotatedAt: { type: Date, default: null },
    revokedAt: { type: Date, default: null },
    revokedReason: { type: String, default: null },
  },
  { versionKey: false, collection: "sessions" },
);
sessionSchema.index({ tenantId: 1, userId: 1, revokedAt: 1 }, { name: "tenant_user_live" });
sessionSchema.index({ expiresAt: 1 }, { name: "expires_at" });

type SessionDocument = Omit<Session, "id"> & { _id: string };
const toSession = ({ _id, ...rest }: SessionDocument): Session => ({ id: _id, ...rest });

export function createMongoSessionRepository(connection: Connection): SessionRepository & { ready(): Promise<unknown> } {
  const Sessions = connection.model<SessionDocument>("Session", sessionSchema);
  return {
    ready: () => Sessions.init(),
    async create(session) {
      const { id, ...rest } = session;
      await Sessions.create({ _id: id, ...rest });
    },
    async findById(id) {
      const doc = await Sessions.findById(id).lean<SessionDocument>();
      return doc ? toSession(doc) : null;
    },
    async rotate(id, expectedHash, next) {
      const result = await Sessions.updateOne(
        { _id: id, refreshHash: expectedHash, revokedAt: null },
        { $set: { refreshHash: next.refreshHash, previousRefreshHash: expectedHash, rotatedAt: next.rotatedAt, lastUsedAt: next.rotatedAt, expiresAt: next.expiresAt, ip: next.ip, role: next.role } },
      );
      return result.modifiedCount === 1;
    },
    async revoke(id, reason, at) {
      const doc = await Sessions.findOneAndUpdate({ _id: id, revokedAt: null }, { $set: { revokedAt: at, revokedReason: reason } }, { returnDocument: "after" }).lean<SessionDocument>();
      return doc ? toSession(doc) : null;
    },
    async revokeAllOfUser(tenantId, userId, reason, at, exceptId) {
      const filter = { tenantId, userId, revokedAt: null, ...(exceptId ? { _id: { $ne: exceptId } } : {}) };
      const live = await Sessions.find(filter, { _id: 1 }).lean<Array<{ _id: string }>>();
      if (live.length === 0) return [];
      await Sessions.updateMany(filter, { $set: { revokedAt: at, revokedReason: reason } });
      return live.map((doc) => doc._id);
    },
    async listLive(tenantId, userId, now) {
      const docs = await Sessions.find({ tenantId, userId, revokedAt: null, expiresAt: { $gt: now } })
        .sort({ lastUsedAt: -1 })
        .limit(100)
        .lean<SessionDocument[]>();
      return docs.map(toSession);
    },
    async purgeEndedBefore(before) {
      const result = await Sessions.deleteMany({ $or: [{ expiresAt: { $lt: before } }, { revokedAt: { $lt: before } }] });
      return result.deletedCount;
    },
  };
}
