import type { TenantSettingsReader } from "@tessera/platform";
import type { TenantSettingsRepository } from "../../domain/ports.ts";

/** The tenant's limits and time zone as the admin service publishes them (read on every request). */
export function publishedTenantSettings(reader: TenantSettingsReader): TenantSettingsRepository {
  return {
    async get(tenantId) {
      const settings = await reader.get(tenantId);
      return { tenantId, defaultLimits: settings.defaultLimits, premiumLimits: settings.premiumLimits, timeZone: settings.timeZone };
    },
  };
}
