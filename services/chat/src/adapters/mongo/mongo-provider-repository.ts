import { createHash } from "node:crypto";
import type { Connection, SecretBox } from "@tessera/platform";
import { Schema } from "mongoose";
import type { ModelCatalog, ModelInfo } from "../../domain/ports.ts";
import { DEFAULT_TENANT_ID, type ProviderAdministration, type ProviderDirectory, type ProviderSummary, type UpstreamProvider } from "../../domain/provider.ts";

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

/** Upstream providers per tenant, keys encrypted at rest; read through a short cache. */
export function createMongoProviderRepository(
  connection: Connection,
  box: SecretBox,
  cacheMs = 5_000,
): ProviderDirectory &
  ModelCatalog &
  ProviderAdministration & {
    ready(): Promise<unknown>;
    ensureEnvironmentProvider(input: { tenantId: string; baseUrl: string; keys: string[]; models: ModelInfo[] }): Promise<void>;
    reencryptStaleKeys(): Promise<number>;
  } {
  const Providers = connection.model<ProviderDocument>("UpstreamProvider", providerSchema);
  const cache = new Map<string, { at: number; providers: UpstreamProvider[] }>();

  const load = async (tenantId: string): Promise<UpstreamProvider[]> => {
    const docs = await Providers.find({ tenantId }).sort({ _id: 1 }).lean<ProviderDocument[]>();
    return docs.map((doc) => ({
      id: doc._id,
      tenantId: doc.tenantId,
      baseUrl: doc.baseUrl,
      models: doc.models.map(({ id, name }) => ({ id, name })),
      keys: doc.keys.map((key) => ({ id: key.id, secret: box.decrypt(key.box) })),
    }));
  };

  const providersFor = async (tenantId: string): Promise<UpstreamProvider[]> => {
    const cached = cache.get(tenantId);
    if (cached && Date.now() - cached.at < cacheMs) return cached.providers;
    let providers = await load(tenantId);
    if (providers.length === 0 && tenantId !== DEFAULT_TENANT_ID) providers = await providersFor(DEFAULT_TENANT_ID);
    if (cache.size > 10_000) cache.clear();
    cache.set(tenantId, { at: Date.now(), providers });
    return providers;
  };

  return {
    ready: () => Providers.init(),
    providersFor,
    async modelsFor(tenantId) {
      const seen = new Set<string>();
      return (await providersFor(tenantId)).flatMap((provider) => provider.models).filter((model) => !seen.has(model.id) && (seen.add(model.id), true));
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
      cache.clear();
    },
    async listOwn(tenantId) {
      return (await Providers.find({ tenantId }).sort({ _id: 1 }).lean<ProviderDocument[]>()).map(toSummary);
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
      cache.clear();
      return toSummary(doc!);
    },
    async delete(tenantId, id) {
      const result = await Providers.deleteOne({ _id: id, tenantId, origin: "admin" });
      cache.clear();
      return result.deletedCount === 1;
    },
    /** Key rotation: boxes made with an older key of the keyring are encrypted again with the current one. */
    async reencryptStaleKeys() {
      let changed = 0;
      for (const doc of await Providers.find({}).lean<ProviderDocument[]>()) {
        if (!doc.keys.some((key) => box.isStale(key.box))) continue;
        const keys = doc.keys.map((key) => (box.isStale(key.box) ? { id: key.id, box: box.encrypt(box.decrypt(key.box)) } : key));
        await Providers.updateOne({ _id: doc._id, updatedAt: doc.updatedAt }, { $set: { keys, updatedAt: new Date() } });
        changed += 1;
      }
      return changed;
    },
  };
}
