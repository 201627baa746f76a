import { Schema, type Connection } from "mongoose";
import type { StoredSettings } from "../../domain/settings.ts";
import type { SettingsRepository } from "../../domain/ports.ts";

interface SettingsDocument {
  _id: string;
  defaultLimits: { messages: number | null; tokens: number | null };
  premiumLimits: { messages: number | null; tokens: number | null };
  timeZone: string;
  models: string[];
  sharedUpstream: boolean;
  signInProviders: string[] | null;
  autoLinkVerifiedEmail: boolean | null;
  maxCompletionTokens: number | null;
  updatedAt: Date;
}

const pair = { messages: { type: Number, default: null }, tokens: { type: Number, default: null } };
const settingsSchema = new Schema<SettingsDocument>(
  {
    _id: { type: String, required: true },
    defaultLimits: pair,
    premiumLimits: pair,
    timeZone: { type: String, required: true },
    models: { type: [String], default: [] },
    sharedUpstream: { type: Boolean, default: false },
    signInProviders: { type: [String], default: null },
    autoLinkVerifiedEmail: { type: Boolean, default: null },
    maxCompletionTokens: { type: Number, default: null },
    updatedAt: Date,
  },
  { collection: "tenant_settings", versionKey: false },
);

const limits = (value: Partial<SettingsDocument["defaultLimits"]> | undefined) => ({ messages: value?.messages ?? null, tokens: value?.tokens ?? null });

/** One document per tenant that changed its settings; absent means the defaults. */
export function createMongoSettingsRepository(connection: Connection): SettingsRepository {
  const Settings = connection.model<SettingsDocument>("TenantSettings", settingsSchema);
  return {
    async get(tenantId) {
      const document = await Settings.findById(tenantId).lean<SettingsDocument>();
      if (!document) return null;
      return {
        tenantId,
        defaultLimits: limits(document.defaultLimits),
        premiumLimits: limits(document.premiumLimits),
        timeZone: document.timeZone,
        models: document.models ?? [],
        sharedUpstream: document.sharedUpstream ?? false,
        signInProviders: document.signInProviders ?? null,
        autoLinkVerifiedEmail: document.autoLinkVerifiedEmail ?? null,
        maxCompletionTokens: document.maxCompletionTokens ?? null,
        updatedAt: document.updatedAt ?? null,
      };
    },
    async save(settings: StoredSettings) {
      await Settings.updateOne(
        { _id: settings.tenantId },
        {
          $set: {
            defaultLimits: settings.defaultLimits,
            premiumLimits: settings.premiumLimits,
            timeZone: settings.timeZone,
            models: settings.models,
            sharedUpstream: settings.sharedUpstream,
            signInProviders: settings.signInProviders,
            autoLinkVerifiedEmail: settings.autoLinkVerifiedEmail,
            maxCompletionTokens: settings.maxCompletionTokens,
            updatedAt: settings.updatedAt ?? new Date(),
          },
        },
        { upsert: true },
      );
    },
  };
}
