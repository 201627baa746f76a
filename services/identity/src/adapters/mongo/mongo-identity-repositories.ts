import { newId, type Connection } from "@tessera/platform";
import { Schema } from "mongoose";
import { DuplicateUserError } from "../../application/register-user.ts";
import type { NewUser, TenantRepository, UserRepository } from "../../domain/ports.ts";
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
  },
  { timestamps: true, versionKey: false, collection: "users" },
);
userSchema.index({ tenantId: 1, email: 1 }, { unique: true, name: "tenant_email_unique" });
userSchema.index({ tenantId: 1, username: 1 }, { unique: true, name: "tenant_username_unique" });

type TenantDocument = { _id: string; slug: string; name: string; domains: string[]; timeZone: string; minPasswordLength: number; createdAt: Date; updatedAt: Date };
type UserDocument = Omit<User, "id"> & { _id: string };

const toTenant = (doc: TenantDocument): Tenant => ({
  id: doc._id,
  slug: doc.slug,
  name: doc.name,
  domains: doc.domains ?? [],
  timeZone: doc.timeZone,
  minPasswordLength: doc.minPasswordLength,
  createdAt: doc.createdAt,
  updatedAt: doc.updatedAt,
});

const toUser = (doc: UserDocument): User => {
  const { _id, ...rest } = doc;
  return { id: _id, ...rest };
};

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
    async findById(tenantId, id) {
      const doc = await Users.findOne({ _id: id, tenantId }).lean<UserDocument>();
      return doc ? toUser(doc) : null;
    },
    async findByLogin(tenantId, login) {
      const doc = await Users.findOne(login.includes("@") ? { tenantId, email: login } : { tenantId, username: login }).lean<UserDocument>();
      return doc ? toUser(doc) : null;
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

  return { tenants, users, ready: () => Promise.all([Tenants.init(), Users.init()]) };
}
