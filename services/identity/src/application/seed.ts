import type { TenantRepository, UserRepository } from "../domain/ports.ts";
import { normalizeEmail, normalizeUsername } from "../domain/user.ts";
import type { makeRegisterUser } from "./register-user.ts";

/** Creates the default tenant and, when configured, its first admin; safe to run at every start. */
export function makeSeed(deps: { tenants: TenantRepository; users: UserRepository; registerUser: ReturnType<typeof makeRegisterUser> }) {
  return async function seed(
    firstAdmin: { email: string; username: string; password: string } | undefined,
    operator?: { email: string; password: string },
  ) {
    const tenant = await deps.tenants.ensureDefault();
    if (operator) await seedOperator(tenant.id, operator);
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

  /** The platform operator is a user of the default tenant with the operator platform role. */
  async function seedOperator(tenantId: string, operator: { email: string; password: string }) {
    const email = normalizeEmail(operator.email);
    const existing = await deps.users.findByLogin(tenantId, email);
    if (existing) {
      if (existing.platformRole !== "operator") await deps.users.update(tenantId, existing.id, { platformRole: "operator" });
      return;
    }
    const base = normalizeUsername(email.split("@")[0] ?? "operator").replace(/[^a-z0-9._-]/g, "").slice(0, 40) || "operator";
    const username = base.length >= 3 ? base : `${base}-operator`;
    try {
      const user = await deps.registerUser({ tenantId, email, username: (await deps.users.findByLogin(tenantId, username)) ? `${username}-op` : username, password: operator.password, fullName: "Platform operator" });
      await deps.users.update(tenantId, user.id, { platformRole: "operator" });
    } catch (error) {
      if (!(error as { code?: string }).code?.endsWith("_taken")) throw error;
    }
  }
}
