import type { PasswordHasher, TenantRepository, UserRepository } from "../domain/ports.ts";
import { normalizeEmail, normalizeUsername, type User } from "../domain/user.ts";
import type { makeRegisterUser } from "./register-user.ts";

/** Why seeding left an existing account alone (logged by the caller; never carries a secret). */
export interface SeedNotice {
  account: "first admin" | "operator";
  userId: string;
  reason: string;
}

/**
 * Creates the default tenant and, when configured, its first admin and the platform operator; safe
 * to run at every start. An account that already exists is promoted only when its password is the
 * configured one: someone who registered the configured email or username first is not made admin.
 */
export function makeSeed(deps: { tenants: TenantRepository; users: UserRepository; hasher: PasswordHasher; registerUser: ReturnType<typeof makeRegisterUser> }) {
  const ownedByConfig = async (user: User, password: string) => user.passwordHash !== null && (await deps.hasher.verify(user.passwordHash, password));

  return async function seed(
    firstAdmin: { email: string; username: string; password: string } | undefined,
    operator?: { email: string; password: string },
    notify: (notice: SeedNotice) => void = () => undefined,
  ) {
    const tenant = await deps.tenants.ensureDefault();
    if (operator) await seedOperator(tenant.id, operator, notify);
    if (!firstAdmin) return tenant;
    const existing =
      (await deps.users.findByLogin(tenant.id, normalizeEmail(firstAdmin.email))) ??
      (await deps.users.findByLogin(tenant.id, normalizeUsername(firstAdmin.username)));
    if (existing) {
      if (existing.role === "admin") return tenant;
      if (await ownedByConfig(existing, firstAdmin.password)) await deps.users.update(tenant.id, existing.id, { role: "admin" });
      else notify({ account: "first admin", userId: existing.id, reason: "an account with the configured email or username exists with another password; nobody was promoted" });
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
  async function seedOperator(tenantId: string, operator: { email: string; password: string }, notify: (notice: SeedNotice) => void) {
    const email = normalizeEmail(operator.email);
    const existing = await deps.users.findByLogin(tenantId, email);
    if (existing) {
      if (existing.platformRole === "operator") return;
      if (await ownedByConfig(existing, operator.password)) await deps.users.update(tenantId, existing.id, { platformRole: "operator" });
      else notify({ account: "operator", userId: existing.id, reason: "an account with the configured email exists with another password; nobody was promoted" });
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
