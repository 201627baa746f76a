import type { Connection } from "@tessera/platform";
import { Schema } from "mongoose";
import type { LinkedIdentity } from "../../domain/oauth.ts";
import { IdentityConflictError, type LinkedIdentityRepository } from "../../domain/ports.ts";

const identitySchema = new Schema(
  {
    _id: { type: String, required: true },
    tenantId: { type: String, required: true },
    userId: { type: String, required: true },
    provider: { type: String, required: true },
    subject: { type: String, required: true },
    email: { type: String, default: "" },
    displayName: { type: String, default: "" },
    avatarUrl: { type: String, default: "" },
    linkedAt: { type: Date, required: true },
  },
  { versionKey: false, collection: "linked_identities" },
);
// The unique indexes settle concurrent links (FerretDB v1 has no transactions).
identitySchema.index({ tenantId: 1, provider: 1, subject: 1 }, { unique: true, name: "tenant_provider_subject_unique" });
identitySchema.index({ tenantId: 1, userId: 1, provider: 1 }, { unique: true, name: "tenant_user_provider_unique" });

type IdentityDocument = Omit<LinkedIdentity, "id"> & { _id: string };
const toIdentity = ({ _id, ...rest }: IdentityDocument): LinkedIdentity => ({ ...rest, id: _id });

export function createMongoLinkedIdentityRepository(connection: Connection): LinkedIdentityRepository & { ready(): Promise<unknown> } {
  const Identities = connection.model<IdentityDocument>("LinkedIdentity", identitySchema);
  return {
    ready: () => Identities.init(),
    async create(identity) {
      const { id, ...rest } = identity;
      try {
        await Identities.create({ _id: id, ...rest });
      } catch (error) {
        if ((error as { code?: number }).code !== 11000) throw error;
        const message = String((error as Error).message);
        if (message.includes("tenant_user_provider_unique")) throw new IdentityConflictError("user_provider");
        if (message.includes("tenant_provider_subject_unique")) throw new IdentityConflictError("subject");
        const sameUser = await Identities.exists({ tenantId: identity.tenantId, userId: identity.userId, provider: identity.provider });
        throw new IdentityConflictError(sameUser ? "user_provider" : "subject");
      }
    },
    async findBySubject(tenantId, provider, subject) {
      const doc = await Identities.findOne({ tenantId, provider, subject }).lean<IdentityDocument>();
      return doc ? toIdentity(doc) : null;
    },
    async listForUser(tenantId, userId) {
      const docs = await Identities.find({ tenantId, userId }).sort({ linkedAt: 1 }).lean<IdentityDocument[]>();
      return docs.map(toIdentity);
    },
    async updateProfile(id, profile) {
      await Identities.updateOne({ _id: id }, { $set: profile });
    },
    async remove(tenantId, userId, provider) {
      const result = await Identities.deleteOne({ tenantId, userId, provider });
      return result.deletedCount === 1;
    },
  };
}
