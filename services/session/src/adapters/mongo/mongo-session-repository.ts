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
    // "redis": the refresh token lives in Redis (this document is written behind). Absent on
    // sessions of earlier versions, whose refresh state is moved to Redis on their next refresh.
    refreshIn: { type: String, default: null },
  },
  { versionKey: false, collection: "sessions" },
);
sessionSchema.index({ tenantId: 1, userId: 1, revokedAt: 1 }, { name: "tenant_user_live" });
// No index on expiresAt: the purge finds what is due in Redis (see SessionEnds), and every
// rotation moves expiresAt, which an index would make a costlier write.

type SessionDocument = Omit<Session, "id"> & { _id: string; refreshIn?: string | null };
const toSession = ({ _id, refreshIn: _refreshIn, ...rest }: SessionDocument): Session => ({ id: _id, ...rest });

type Touch = Parameters<SessionRepository["touch"]>[1];

/**
 * Sessions in MongoDB. Rotations are written behind: `touch` keeps the latest changes of each
 * session and a flush every `writeBehindMs` writes them (one update per session however often it
 * was refreshed), so refreshing costs the database nothing on the request path.
 */
export function createMongoSessionRepository(
  connection: Connection,
  options: { writeBehindMs?: number; onWriteError?: (error: unknown) => void } = {},
): SessionRepository & { ready(): Promise<unknown>; flush(): Promise<void>; close(): Promise<void> } {
  const Sessions = connection.model<SessionDocument>("Session", sessionSchema);
  const pending = new Map<string, Touch>();
  let flushing: Promise<void> = Promise.resolve();
  const flush = () => {
    flushing = flushing.then(async () => {
      const batch = [...pending.entries()];
      pending.clear();
      for (let index = 0; index < batch.length; index += 16) {
        await Promise.all(
          batch.slice(index, index + 16).map(([id, changes]) =>
            Sessions.updateOne({ _id: id, revokedAt: null }, { $set: changes }).catch((error: unknown) => {
              // Kept for the next flush unless something newer came meanwhile.
              if (!pending.has(id)) pending.set(id, changes);
              options.onWriteError?.(error);
            }),
          ),
        );
      }
    });
    return flushing;
  };
  const timer = setInterval(() => void flush(), options.writeBehindMs ?? 1_000);
  timer.unref();
  return {
    ready: () => Sessions.init(),
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
    async touch(id, changes) {
      pending.set(id, changes);
    },
    async create(session) {
      const { id, ...rest } = session;
      await Sessions.create({ _id: id, ...rest, refreshIn: "redis" });
    },
    async findById(id) {
      const doc = await Sessions.findById(id).lean<SessionDocument>();
      return doc ? { ...toSession(doc), refreshInRedis: doc.refreshIn === "redis" } : null;
    },
    async revoke(id, reason, at) {
      const doc = await Sessions.findOneAndUpdate(
        { _id: id, revokedAt: null },
        { $set: { revokedAt: at, revokedReason: reason } },
        { returnDocument: "after" },
      ).lean<SessionDocument>();
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
    async deleteByIds(ids) {
      // One delete per id, a few at a time: FerretDB v1 serves an _id equality from its primary
      // key (an $in may be a scan), and takes no multi-statement bulk writes.
      let deleted = 0;
      for (let index = 0; index < ids.length; index += 8) {
        const results = await Promise.all(ids.slice(index, index + 8).map((id) => Sessions.deleteOne({ _id: id })));
        for (const result of results) deleted += result.deletedCount;
      }
      return deleted;
    },
    async *endsOfAll() {
      const cursor = Sessions.find({}, { _id: 1, expiresAt: 1, revokedAt: 1 })
        .lean<Array<Pick<SessionDocument, "_id" | "expiresAt" | "revokedAt">>>()
        .cursor({ batchSize: 1_000 });
      for await (const doc of cursor) {
        const endsAt = doc.revokedAt && doc.revokedAt < doc.expiresAt ? doc.revokedAt : doc.expiresAt;
        yield { id: doc._id, endsAt };
      }
    },
  };
}
