import { createHash } from "node:crypto";
import { createCache, type Cache, type Connection, type SecretBox } from "@tessera/platform";
import { Schema } from "mongoose";
import type { ModelCatalog, ModelInfo } from "../../domain/ports.ts";
import {
  DEFAULT_TENANT_ID,
  offeredModels,
  type ProviderAdministration,
  type ProviderDirectory,
  type ProviderSummary,
  type UpstreamPolicy,
  type UpstreamProvider,
} from "../../domain/provider.ts";

const providerSchema = new Schema(
  {
    _id: { type: String, required: true },
    tenantId: { type: String, required: true },
    name: { type: String, required: true },
    baseUrl: { type: String, required: true },
    models: [{ _id: false, id: String, name: String }],
    // Each key's secret is a SecretBox (AES-256-GCM) box; `id` is a fingerprint, not the key.
    keys: [{ _id: false, id: String, box: String, hint: String }],
    origin: { type: String, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false, collection: "upstream_providers" },
);
providerSchema.index({ tenantId: 1 }, { name: "tenant" });

interface ProviderDocument {
  _id: string;
  tenantId: string;
  name: string;
  baseUrl: string;
  models: ModelInfo[];
  keys: Array<{ id: string; box: string; hint?: string }>;
  origin: "environment" | "admin";
  updatedAt: Date;
}

const fingerprint = (secret: string) => createHash("sha256").update(secret).digest("hex").slice(0, 12);
const hintOf = (secret: string) => (secret.length > 8 ? secret.slice(-4) : "");
const sealed = (box: SecretBox, secret: string) => ({ id: fingerprint(secret), box: box.encrypt(secret), hint: hintOf(secret) });
const toSummary = (doc: ProviderDocument): ProviderSummary => ({
  id: doc._id,
  tenantId: doc.tenantId,
  name: doc.name,
  baseUrl: doc.baseUrl,
  models: doc.models.map(({ id, name }) => ({ id, name })),
  keys: doc.keys.map((key) => ({ id: key.id, hint: key.hint ?? "" })),
  origin: doc.origin,
  updatedAt: doc.updatedAt,
});

/**
 * Upstream providers per tenant, keys encrypted at rest; read through the platform cache, which
 * `changed` (the invalidation bus) keeps exact in every process. The shared upstream (the
 * environment's provider) joins a tenant's own only while its settings grant it, and the models
 * offered follow its settings; both are read on every request.
 */
export function createMongoProviderRepository(
  connection: Connection,
  box: SecretBox,
  policyOf: (tenantId: string) => Promise<UpstreamPolicy>,
  caching: { cache: Cache<UpstreamProvider[]>; changed(keys: string[]): Promise<void> } = {
    cache: createCache({ name: "models", ttlMs: 5_000, maxEntries: 10_000 }),
    changed: async () => undefined,
  },
): ProviderDirectory &
  ModelCatalog &
  ProviderAdministration & {
    ready(): Promise<unknown>;
    ensureEnvironmentProvider(input: { tenantId: string; baseUrl: string; keys: string[]; models: ModelInfo[] }): Promise<void>;
    reencryptStaleKeys(): Promise<number>;
  } {
  const Providers = connection.model<ProviderDocument>("UpstreamProvider", providerSchema);
  const { cache } = caching;
  const cacheKey = (origin: "admin" | "environment", tenantId: string) => `${origin}/${tenantId}`;
  /** Every process drops what it cached of these providers (an environment provider: everything, it is shared). */
  const changed = (origin: "admin" | "environment", tenantId: string) => caching.changed(origin === "admin" ? [cacheKey(origin, tenantId)] : []);

  /** The tenant's own providers, or (origin "environment") the shared upstream's. */
  const filterOf = (tenantId: string, origin: "admin" | "environment") =>
    origin === "admin" ? { tenantId, origin } : { origin, tenantId: { $in: [...new Set([tenantId, DEFAULT_TENANT_ID])] } };

  const load = (tenantId: string, origin: "admin" | "environment"): Promise<UpstreamProvider[]> =>
    cache.getOrLoad(cacheKey(origin, tenantId), async () => {
      const docs = await Providers.find(filterOf(tenantId, origin)).sort({ _id: 1 }).lean<ProviderDocument[]>();
      return docs.map((doc) => ({
        id: doc._id,
        tenantId: doc.tenantId,
        baseUrl: doc.baseUrl,
        models: doc.models.map(({ id, name }) => ({ id, name })),
        keys: doc.keys.map((key) => ({ id: key.id, secret: box.decrypt(key.box) })),
      }));
    });

  const providersFor = async (tenantId: string): Promise<UpstreamProvider[]> => {
    const policy = await policyOf(tenantId);
    const own = await load(tenantId, "admin");
    return policy.sharedUpstream ? [...own, ...(await load(tenantId, "environment"))] : own;
  };

  return {
    ready: () => Providers.init(),
    providersFor,
    async modelsFor(tenantId) {
      const [providers, policy] = await Promise.all([providersFor(tenantId), policyOf(tenantId)]);
      return offeredModels(providers, policy);
    },
    /** The provider given by DEFAULT_LLM_* (replaced when those change; kept encrypted with the current key). */
    async ensureEnvironmentProvider(input) {
      const id = `environment:${input.tenantId}`;
      const existing = await Providers.findById(id).lean<ProviderDocument>();
      const keyIds = input.keys.map(fingerprint);
      const unchanged =
        existing &&
        existing.baseUrl === input.baseUrl &&
        JSON.stringify(existing.models.map(({ id, name }) => ({ id, name }))) === JSON.stringify(input.models) &&
        JSON.stringify(existing.keys.map((key) => key.id)) === JSON.stringify(keyIds);
      if (unchanged) return;
      await Providers.updateOne(
        { _id: id },
        {
          $set: {
            tenantId: input.tenantId,
            name: "Default",
            baseUrl: input.baseUrl,
            models: input.models,
            keys: input.keys.map((secret) => sealed(box, secret)),
            origin: "environment",
            updatedAt: new Date(),
          },
        },
        { upsert: true },
      );
      await changed("environment", input.tenantId);
    },
    async listOwn(tenantId) {
      const own = await Providers.find(filterOf(tenantId, "admin")).sort({ _id: 1 }).lean<ProviderDocument[]>();
      const shared = (await policyOf(tenantId)).sharedUpstream
        ? await Providers.find(filterOf(tenantId, "environment")).sort({ _id: 1 }).lean<ProviderDocument[]>()
        : [];
      return [...own, ...shared].map(toSummary);
    },
    async findOwn(tenantId, id) {
      const doc = await Providers.findOne({ _id: id, tenantId }).lean<ProviderDocument>();
      return doc ? toSummary(doc) : null;
    },
    async save(changes, now) {
      const existing = await Providers.findOne({ _id: changes.id, tenantId: changes.tenantId }).lean<ProviderDocument>();
      const kept = (existing?.keys ?? []).filter((key) => !changes.removeKeyIds.includes(key.id));
      const added = changes.addKeys.map((secret) => sealed(box, secret)).filter((key) => !kept.some((other) => other.id === key.id));
      const doc = await Providers.findOneAndUpdate(
        { _id: changes.id, tenantId: changes.tenantId },
        { $set: { name: changes.name, baseUrl: changes.baseUrl, models: changes.models, keys: [...kept, ...added], origin: "admin", updatedAt: now } },
        { upsert: true, returnDocument: "after" },
      ).lean<ProviderDocument>();
      await changed("admin", changes.tenantId);
      return toSummary(doc!);
    },
    async delete(tenantId, id) {
      const result = await Providers.deleteOne({ _id: id, tenantId, origin: "admin" });
      await changed("admin", tenantId);
      return result.deletedCount === 1;
    },
    /** Key rotation: boxes made with an older key of the keyring are encrypted again with the current one. */
    async reencryptStaleKeys() {
      let reencrypted = 0;
      for (const doc of await Providers.find({}).lean<ProviderDocument[]>()) {
        if (!doc.keys.some((key) => box.isStale(key.box))) continue;
        const keys = doc.keys.map((key) => (box.isStale(key.box) ? { id: key.id, box: box.encrypt(box.decrypt(key.box)) } : key));
        await Providers.updateOne({ _id: doc._id, updatedAt: doc.updatedAt }, { $set: { keys, updatedAt: new Date() } });
        reencrypted += 1;
      }
      return reencrypted;
    },
  };
}
