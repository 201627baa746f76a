import { Schema, type Connection } from "mongoose";
import { defaultTenantSettings, type LimitOverrides, type TenantLimitSettings } from "../../domain/limits.ts";
import type { TenantSettingsRepository } from "../../domain/ports.ts";
import { guarded } from "./mongo-outage.ts";

interface SettingsDocument {
  _id: string;
  defaultLimits: LimitOverrides;
  premiumLimits: LimitOverrides;
  timeZone: string;
  updatedAt: Date;
}

const pair = { messages: { type: Number, default: null }, tokens: { type: Number, default: null } };
const settingsSchema = new Schema<SettingsDocument>(
  { _id: { type: String, required: true }, defaultLimits: pair, premiumLimits: pair, timeZone: { type: String, required: true }, updatedAt: Date },
  { collection: "quota_tenant_settings", versionKey: false },
);

const overrides = (value: Partial<LimitOverrides> | undefined): LimitOverrides => ({ messages: value?.messages ?? null, tokens: value?.tokens ?? null });

/** Tenant limit settings, one document per tenant (absent = defaults). */
export function createMongoTenantSettings(connection: Connection): TenantSettingsRepository {
  const Settings = connection.model<SettingsDocument>("QuotaTenantSettings", settingsSchema);
  return {
    get: (tenantId) =>
      guarded(async () => {
        const document = await Settings.findById(tenantId).lean<SettingsDocument>();
        if (!document) return defaultTenantSettings(tenantId);
        return { tenantId, defaultLimits: overrides(document.defaultLimits), premiumLimits: overrides(document.premiumLimits), timeZone: document.timeZone };
      }),
    async save(settings: TenantLimitSettings) {
      await Settings.updateOne(
        { _id: settings.tenantId },
        { $set: { defaultLimits: settings.defaultLimits, premiumLimits: settings.premiumLimits, timeZone: settings.timeZone, updatedAt: new Date() } },
        { upsert: true },
      );
      return settings;
    },
  };
}
