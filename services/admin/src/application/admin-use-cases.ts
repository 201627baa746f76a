import type { UserFields } from "../domain/ports.ts";
import type { AdminDependencies } from "./dependencies.ts";
import { manageTenants } from "./manage-tenants.ts";
import { manageUsers } from "./manage-users.ts";
import { readAudit } from "./read-audit.ts";
import { tenantSettings } from "./tenant-settings.ts";
import { usageViews } from "./usage-views.ts";

/** Every admin and operator use case, wired to the same ports. */
export function createAdminUseCases<User extends UserFields, D, S, M>(deps: AdminDependencies<User, D, S, M>) {
  const settings = tenantSettings(deps);
  return { settings, users: manageUsers(deps), usage: usageViews(deps), audit: readAudit(deps), tenants: manageTenants(deps, settings) };
}

export type AdminUseCases<User extends UserFields, D, S, M> = ReturnType<typeof createAdminUseCases<User, D, S, M>>;
