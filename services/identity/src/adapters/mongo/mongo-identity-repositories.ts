import { DEFAULT_KEY_SCOPES, knownKeyScopes, newId, type Connection } from "@tessera/platform";
import { Schema } from "mongoose";
import { DuplicateUserError } from "../../application/register-user.ts";
import type { ApiKeyRecord, ApiKeyRepository, NewUser, TenantRepository, UserRepository } from "../../domain/ports.ts";
import { DEFAULT_MIN_PASSWORD_LENGTH, DEFAULT_TENANT_SLUG, type Tenant } from "../../domain/tenant.ts";
import { DEFAULT_MAX_CHATS, type User } from "../../domain/user.ts";

const tenantSchema = new Schema(
  {
    _id: { type: String, required: true },
    slug: { type: String, required: true },
    name: { type: String, required: true },
    domains: { type: [String], default: [] },
    timeZone: { type: String, default: "UTC" },
    minPasswordLength: { type: Number, default: DEFAULT_MIN_PASSWORD_LENGTH },
    selfRegistration: { type: Boolean, default: true },
  },
  { timestamps: true, versionKey: false, collection: "tenants" },
);
tenantSchema.index({ slug: 1 }, { unique: true, name: "slug_unique" });
tenantSchema.index({ domains: 1 }, { name: "domains" });

const userSchema = new Schema(
  {
    _id: { type: String, required: true },
    tenantId: { type: String, required: true },
    email: { type: String, required: true },
    username: { type: String, required: true },
    fullName: { type: String, default: "" },
    avatarUrl: { type: String, default: "" },
    role: { type: String, enum: ["user", "admin"], default: "user" },
    status: { type: String, enum: ["active", "disabled", "silenced"], default: "active" },
    trustLevel: { type: Number, default: 0 },
    premiumUntil: { type: Date, default: null },
    passwordHash: { type: String, default: null },
    maxMessagesPerDay: { type: Number, default: null },
    maxTokensPerDay: { type: Number, default: null },
    maxChats: { type: Number, default: DEFAULT_MAX_CHATS },
    platformRole: { type: String, enum: ["operator", null], default: null },
  },
  { timestamps: true, versionKey: false, collection: "users" },
);
userSchema.index({ tenantId: 1, email: 1 }, { unique: true, name: "tenant_email_unique" });
userSchema.index({ tenantId: 1, username: 1 }, { unique: true, name: "tenant_username_unique" });

type TenantDocument = { _id: string; slug: string; name: string; domains: string[]; timeZone: string; minPasswordLength: number; selfRegistration?: boolean; createdAt: Date; updatedAt: Date };
type UserDocument = Omit<User, "id"> & { _id: string };

const toTenant = (doc: TenantDocument): Tenant => ({
  id: doc._id,
  slug: doc.slug,
  name: doc.name,
  domains: doc.domains ?? [],
  timeZone: doc.timeZone,
  minPasswordLength: doc.minPasswordLength,
  // Tenants stored before the setting existed are open, as they were.
  selfRegistration: doc.selfRegistration ?? true,
  createdAt: doc.createdAt,
  updatedAt: doc.updatedAt,
});

const toUser = (doc: UserDocument): User => {
  const { _id, ...rest } = doc;
  return { ...rest, id: _id, platformRole: doc.platformRole ?? null, premiumUntil: doc.premiumUntil ?? null, maxMessagesPerDay: doc.maxMessagesPerDay ?? null, maxTokensPerDay: doc.maxTokensPerDay ?? null };
};

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const apiKeySchema = new Schema(
  {
    _id: { type: String, required: true },
    tenantId: { type: String, required: true },
    userId: { type: String, required: true },
    name: { type: String, required: true },
    prefix: { type: String, required: true },
    hash: { type: String, required: true },
    scopes: { type: [String], default: undefined },
    createdAt: { type: Date, required: true },
    lastUsedAt: { type: Date, default: null },
    revokedAt: { type: Date, default: null },
  },
  { versionKey: false, collection: "api_keys" },
);
apiKeySchema.index({ hash: 1 }, { unique: true, name: "hash_unique" });
apiKeySchema.index({ tenantId: 1, userId: 1 }, { name: "tenant_user" });
type ApiKeyDocument = Omit<ApiKeyRecord, "id"> & { _id: string };
// Keys created before scopes existed are inference-only (the OpenAI-compatible API they were made for).
const toApiKey = ({ _id, ...rest }: ApiKeyDocument): ApiKeyRecord => ({ ...rest, scopes: knownKeyScopes(rest.scopes?.length ? rest.scopes : DEFAULT_KEY_SCOPES), id: _id });

function isDuplicateKey(error: unknown): error is { code: number; message: string } {
  return typeof error === "object" && error !== null && (error as { code?: number }).code === 11000;
}

export function createMongoIdentityRepositories(connection: Connection) {
  const Tenants = connection.model<TenantDocument>("Tenant", tenantSchema);
  const Users = connection.model<UserDocument>("User", userSchema);

  const tenants: TenantRepository = {
    async findById(id) {
      const doc = await Tenants.findById(id).lean<TenantDocument>();
      return doc ? toTenant(doc) : null;
    },
    async findBySlug(slug) {
      const doc = await Tenants.findOne({ slug }).lean<TenantDocument>();
      return doc ? toTenant(doc) : null;
    },
    async findByDomain(domain) {
      const doc = await Tenants.findOne({ domains: domain }).lean<TenantDocument>();
      return doc ? toTenant(doc) : null;
    },
    async ensureDefault() {
      const doc = await Tenants.findOneAndUpdate(
        { slug: DEFAULT_TENANT_SLUG },
        { $setOnInsert: { _id: DEFAULT_TENANT_SLUG, name: "Default", domains: [], timeZone: "UTC", minPasswordLength: DEFAULT_MIN_PASSWORD_LENGTH } },
        { upsert: true, returnDocument: "after" },
      ).lean<TenantDocument>();
      return toTenant(doc!);
    },
    async list(limit, after) {
      const docs = await Tenants.find(after ? { _id: { $gt: after } } : {}).sort({ _id: 1 }).limit(limit).lean<TenantDocument[]>();
      return docs.map(toTenant);
    },
    async create(tenant) {
      const { id, ...rest } = tenant;
      const doc = await Tenants.create({ _id: id, ...rest });
      return toTenant(doc.toObject() as TenantDocument);
    },
    async update(id, changes) {
      const doc = await Tenants.findOneAndUpdate({ _id: id }, { $set: changes }, { returnDocument: "after" }).lean<TenantDocument>();
      return doc ? toTenant(doc) : null;
    },
  };

  const users: UserRepository = {
    async create(input: NewUser) {
      try {
        const doc = await Users.create({ _id: newId(), ...input });
        return toUser(doc.toObject() as UserDocument);
      } catch (error) {
        if (isDuplicateKey(error)) {
          // FerretDB and MongoDB both name the violated index in the message.
          if (error.message.includes("tenant_username_unique")) throw new DuplicateUserError("username");
          if (error.message.includes("tenant_email_unique")) throw new DuplicateUserError("email");
          const byEmail = await Users.exists({ tenantId: input.tenantId, email: input.email });
          throw new DuplicateUserError(byEmail ? "email" : "username");
        }
        throw error;
      }
    },
    async list(tenantId, query) {
      const filter: Record<string, unknown> = { tenantId };
      if (query.status) filter.status = query.status;
      if (query.role) filter.role = query.role;
      if (query.after) filter._id = { $gt: query.after };
      if (query.query) {
        const pattern = new RegExp(escapeRegex(query.query.trim().toLowerCase()));
        filter.$or = [{ email: pattern }, { username: pattern }, { fullName: new RegExp(escapeRegex(query.query.trim()), "i") }];
      }
      const docs = await Users.find(filter).sort({ _id: 1 }).limit(query.limit).lean<UserDocument[]>();
      return docs.map(toUser);
    },
    async findById(tenantId, id) {
      const doc = await Users.findOne({ _id: id, tenantId }).lean<UserDocument>();
      return doc ? toUser(doc) : null;
    },
    async findByLogin(tenantId, login) {
      const doc = await Users.findOne(login.includes("@") ? { tenantId, email: login } : { tenantId, username: login }).lean<UserDocument>();
      return doc ? toUser(doc) : null;
    },
    async countActiveAdmins(tenantId, limit) {
      const docs = await Users.find({ tenantId, role: "admin", status: { $ne: "disabled" } }, { _id: 1 }).limit(limit).lean();
      return docs.length;
    },
    async update(tenantId, id, changes) {
      try {
        const doc = await Users.findOneAndUpdate({ _id: id, tenantId }, { $set: changes }, { returnDocument: "after" }).lean<UserDocument>();
        return doc ? toUser(doc) : null;
      } catch (error) {
        if (isDuplicateKey(error)) throw new DuplicateUserError(error.message.includes("email") ? "email" : "username");
        throw error;
      }
    },
  };

  const ApiKeys = connection.model<ApiKeyDocument>("ApiKey", apiKeySchema);
  const apiKeys: ApiKeyRepository = {
    async create(record) {
      const { id, ...rest } = record;
      await ApiKeys.create({ _id: id, ...rest });
    },
    async listLive(tenantId, userId) {
      const docs = await ApiKeys.find({ tenantId, userId, revokedAt: null }).sort({ createdAt: -1 }).lean<ApiKeyDocument[]>();
      return docs.map(toApiKey);
    },
    async findLiveByHash(hash) {
      const doc = await ApiKeys.findOne({ hash, revokedAt: null }).lean<ApiKeyDocument>();
      return doc ? toApiKey(doc) : null;
    },
    async revoke(tenantId, userId, id, at) {
      const result = await ApiKeys.updateOne({ _id: id, tenantId, userId, revokedAt: null }, { $set: { revokedAt: at } });
      if (result.modifiedCount !== 1) return null;
      const doc = await ApiKeys.findById(id).lean<ApiKeyDocument>();
      return doc?.hash ?? null;
    },
    async touch(id, at) {
      await ApiKeys.updateOne({ _id: id }, { $set: { lastUsedAt: at } });
    },
  };

  return { tenants, users, apiKeys, ready: () => Promise.all([Tenants.init(), Users.init(), ApiKeys.init()]) };
}
