import { PLATFORM_SCOPE } from "../domain/audit.ts";
import type { Actor, TenantChanges, TenantInput, TenantRecord, UserFields } from "../domain/ports.ts";
import { applySettingsChanges, type StoredSettings } from "../domain/settings.ts";
import { auditRecorder, authorization, type AdminDependencies } from "./dependencies.ts";
import type { tenantSettings } from "./tenant-settings.ts";

export interface TenantView extends TenantRecord {
  timeZone: string;
  sharedUpstream: boolean;
}

const viewOf = (tenant: TenantRecord, settings: StoredSettings): TenantView => ({ ...tenant, timeZone: settings.timeZone, sharedUpstream: settings.sharedUpstream });

/** The platform operator manages tenants: identity's record plus the tenant's time zone and shared-upstream grant. */
export function manageTenants<User extends UserFields, D, S, M>(deps: AdminDependencies<User, D, S, M>, settings: ReturnType<typeof tenantSettings<User, D, S, M>>) {
  const { requireOperator } = authorization(deps.identity);
  const record = auditRecorder(deps);
  const withSettings = async (tenant: TenantRecord) => viewOf(tenant, await settings.operatorSettings(tenant.id));

  return {
    async list(actor: Actor, limit: number, cursor: string) {
      await requireOperator(actor);
      const page = await deps.identity.listTenants(actor, limit, cursor);
      return { items: await Promise.all(page.items.map(withSettings)), nextCursor: page.nextCursor };
    },
    async get(actor: Actor, id: string): Promise<TenantView> {
      await requireOperator(actor);
      return withSettings(await deps.identity.getTenant(actor, id));
    },
    async create(actor: Actor, input: TenantInput & { timeZone?: string | undefined; sharedUpstream?: boolean | undefined }): Promise<TenantView> {
      await requireOperator(actor);
      // Checked before anything is created, so a bad time zone leaves no tenant behind.
      applySettingsChanges(await settings.operatorSettings(input.slug), { timeZone: input.timeZone }, null, deps.clock.now());
      const tenant = await deps.identity.createTenant(actor, { slug: input.slug, name: input.name, domains: input.domains });
      const own = await settings.saveOperatorSettings(tenant.id, { timeZone: input.timeZone, sharedUpstream: input.sharedUpstream ?? false });
      const after = viewOf(tenant, own);
      await record(actor, PLATFORM_SCOPE, { action: "tenant.create", targetType: "tenant", targetId: tenant.id, before: null, after });
      return after;
    },
    async update(actor: Actor, id: string, changes: TenantChanges & { timeZone?: string | undefined; sharedUpstream?: boolean | undefined }): Promise<TenantView> {
      await requireOperator(actor);
      const before = await withSettings(await deps.identity.getTenant(actor, id));
      applySettingsChanges(await settings.operatorSettings(id), { timeZone: changes.timeZone }, null, deps.clock.now());
      const identityChanges = { name: changes.name, domains: changes.domains, minPasswordLength: changes.minPasswordLength };
      const tenant = Object.values(identityChanges).some((value) => value !== undefined) ? await deps.identity.updateTenant(actor, id, identityChanges) : await deps.identity.getTenant(actor, id);
      const own =
        changes.timeZone !== undefined || changes.sharedUpstream !== undefined
          ? await settings.saveOperatorSettings(id, { timeZone: changes.timeZone, sharedUpstream: changes.sharedUpstream })
          : await settings.operatorSettings(id);
      const after = viewOf(tenant, own);
      await record(actor, PLATFORM_SCOPE, { action: "tenant.update", targetType: "tenant", targetId: id, before, after });
      return after;
    },
  };
}
