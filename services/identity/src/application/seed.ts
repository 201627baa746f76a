import type { TenantRepository, UserRepository } from "../domain/ports.ts";
import { normalizeEmail, normalizeUsername } from "../domain/user.ts";
import type { makeRegisterUser } from "./register-user.ts";

/** Creates the default tenant and, when configured, its first admin; safe to run at every start. */
export function makeSeed(deps: { tenants: TenantRepository; users: UserRepository; registerUser: ReturnType<typeof makeRegisterUser> }) {
  return async function seed(firstAdmin: { email: string; username: string; password: string } | undefined) {
    const tenant = await deps.tenants.ensureDefault();
    if (!firstAdmin) return tenant;
    const existing =
      (await deps.users.findByLogin(tenant.id, normalizeEmail(firstAdmin.email))) ??
      (await deps.users.findByLogin(tenant.id, normalizeUsername(firstAdmin.username)));
    if (existing) {
      if (existing.role !== "admin") await deps.users.update(tenant.id, existing.id, { role: "admin" });
      return tenant;
    }
    try {
      await deps.registerUser({ tenantId: tenant.id, email: firstAdmin.email, username: firstAdmin.username, password: firstAdmin.password, fullName: "Administrator" }, "admin");
    } catch (error) {
      // Another replica seeded it at the same moment.
      if ((error as { code?: string }).code?.endsWith("_taken")) return tenant;
      throw error;
    }
    return tenant;
  };
}
