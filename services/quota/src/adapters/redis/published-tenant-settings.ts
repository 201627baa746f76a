import type { TenantSettingsReader } from "@tessera/platform";
import type { TenantSettingsRepository } from "../../domain/ports.ts";

/**
 * The tenant's limits and time zone as the admin service publishes them (read on every request,
 * from the invalidation bus's cache). The snapshot is handed over as it is, not copied per call.
 */
export function publishedTenantSettings(reader: TenantSettingsReader): TenantSettingsRepository {
  return { get: (tenantId) => reader.get(tenantId) };
}
