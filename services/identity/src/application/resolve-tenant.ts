import type { TenantRepository } from "../domain/ports.ts";
import { DEFAULT_TENANT_SLUG, normalizeHost, type Tenant } from "../domain/tenant.ts";

/** The tenant whose domains list the request's host; unknown hosts get the default tenant. */
export function makeResolveTenant(tenants: TenantRepository) {
  return async function resolveTenant(host: string): Promise<Tenant> {
    const domain = normalizeHost(host);
    const tenant = (domain ? await tenants.findByDomain(domain) : null) ?? (await tenants.findBySlug(DEFAULT_TENANT_SLUG));
    return tenant ?? tenants.ensureDefault();
  };
}
