import { conflict, forbidden, notFound, requireAdmin, validationFailed, type Caller, type Clock, type FieldError } from "@tessera/platform";
import type { ChangeNotifier, SessionRevoker, TenantLock, TenantRepository, UserRepository } from "../domain/ports.ts";
import { isValidTimeZone, normalizeHost, type Tenant } from "../domain/tenant.ts";
import type { User } from "../domain/user.ts";

export interface AdminUserChanges {
  role?: User["role"] | undefined;
  status?: User["status"] | undefined;
  /** undefined: unchanged; null: cleared. */
  premiumUntil?: Date | null | undefined;
  trustLevel?: number | undefined;
  maxMessagesPerDay?: number | null | undefined;
  maxTokensPerDay?: number | null | undefined;
  maxChats?: number | undefined;
}

/** Tenant administration (admins of their own tenant) and platform operation (operators). */
export function createAdminUseCases(deps: { users: UserRepository; tenants: TenantRepository; sessions: SessionRevoker; changes: ChangeNotifier; tenantLock: TenantLock; clock: Clock }) {
  const isOperator = async (claims: Caller) => (await deps.users.findById(claims.tenantId, claims.userId))?.platformRole === "operator";
  const requireOperator = async (claims: Caller) => {
    if (!(await isOperator(claims))) throw forbidden("Only platform operators can do this.");
  };

  const tenantProblems = (input: { slug?: string; name?: string; domains?: string[]; timeZone?: string; minPasswordLength?: number }): FieldError[] => {
    const problems: FieldError[] = [];
    if (input.slug !== undefined && !/^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$/.test(input.slug)) problems.push({ field: "slug", message: "Use 1-50 lower-case letters, digits or '-'." });
    if (input.name !== undefined && (input.name.trim().length < 1 || input.name.length > 100)) problems.push({ field: "name", message: "Use 1 to 100 characters." });
    if (input.domains !== undefined) {
      if (input.domains.length > 20) problems.push({ field: "domains", message: "At most 20 domains." });
      input.domains.forEach((domain, index) => {
        if (!/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/.test(normalizeHost(domain))) problems.push({ field: `domains.${index}`, message: "Not a host name." });
      });
    }
    if (input.timeZone !== undefined && !isValidTimeZone(input.timeZone)) problems.push({ field: "timeZone", message: "Use an IANA time zone such as Europe/Berlin." });
    if (input.minPasswordLength !== undefined && (input.minPasswordLength < 8 || input.minPasswordLength > 64)) problems.push({ field: "minPasswordLength", message: "Use 8 to 64." });
    return problems;
  };

  const assertDomainsFree = async (domains: string[], tenantId?: string) => {
    for (const domain of domains) {
      const owner = await deps.tenants.findByDomain(domain);
      if (owner && owner.id !== tenantId) throw conflict("domain_taken", `The domain ${domain} belongs to another tenant.`, [{ field: "domains", message: `${domain} is taken.` }]);
    }
  };

  return {
    async listUsers(claims: Caller, query: { query?: string; status?: string; role?: string; limit: number; after?: string }) {
      requireAdmin(claims);
      return deps.users.list(claims.tenantId, query);
    },

    async getUser(claims: Caller, userId: string) {
      requireAdmin(claims);
      const user = await deps.users.findById(claims.tenantId, userId);
      if (!user) throw notFound("user");
      return user;
    },

    async updateUser(claims: Caller, userId: string, changes: AdminUserChanges): Promise<{ before: User; after: User }> {
      requireAdmin(claims);
      const before = await deps.users.findById(claims.tenantId, userId);
      if (!before) throw notFound("user");
      const problems: FieldError[] = [];
      if (changes.role !== undefined && !["user", "admin"].includes(changes.role)) problems.push({ field: "role", message: "Use user or admin." });
      if (changes.status !== undefined && !["active", "disabled", "silenced"].includes(changes.status)) problems.push({ field: "status", message: "Use active, disabled or silenced." });
      if (changes.premiumUntil && Number.isNaN(changes.premiumUntil.getTime())) problems.push({ field: "premiumUntil", message: "Use an ISO 8601 date-time." });
      if (changes.trustLevel !== undefined && (!Number.isInteger(changes.trustLevel) || changes.trustLevel < 0 || changes.trustLevel > 4)) problems.push({ field: "trustLevel", message: "Use 0 to 4." });
      if (changes.maxChats !== undefined && (!Number.isInteger(changes.maxChats) || changes.maxChats < 0 || changes.maxChats > 100_000)) problems.push({ field: "maxChats", message: "Use 0 to 100000." });
      for (const field of ["maxMessagesPerDay", "maxTokensPerDay"] as const) {
        const value = changes[field];
        if (value !== undefined && value !== null && (!Number.isInteger(value) || value < 0)) problems.push({ field, message: "Use a whole number of 0 or more, or null for the tenant default." });
      }
      if (userId === claims.userId && (changes.role === "user" || changes.status === "disabled")) problems.push({ field: changes.role === "user" ? "role" : "status", message: "You cannot demote or disable yourself." });
      if (problems.length > 0) throw validationFailed(problems);
      // The platform operator answers only to operators: a tenant admin cannot change or disable them.
      if (before.platformRole === "operator" && before.id !== claims.userId && !(await isOperator(claims))) {
        throw forbidden("The platform operator can only be changed by an operator.", "operator_protected");
      }
      const update: Partial<User> = {};
      for (const [key, value] of Object.entries(changes)) if (value !== undefined) (update as Record<string, unknown>)[key] = value;
      const removesAnAdmin = before.role === "admin" && (changes.role === "user" || changes.status === "disabled");
      const apply = async () => {
        const after = await deps.users.update(claims.tenantId, userId, update);
        if (!after) throw notFound("user");
        return after;
      };
      // Demoting or disabling an admin happens under the tenant's lock, re-reading who is still an
      // active admin, so two admins demoting each other at once leave one.
      const after = !removesAnAdmin
        ? await apply()
        : await deps.tenantLock.withLock(claims.tenantId, async () => {
            const actor = await deps.users.findById(claims.tenantId, claims.userId);
            if (actor?.role !== "admin" || actor.status === "disabled") throw forbidden("Only administrators can do this.");
            const current = await deps.users.findById(claims.tenantId, userId);
            if (current?.role === "admin" && current.status !== "disabled" && (await deps.users.countActiveAdmins(claims.tenantId, 2)) < 2) {
              throw conflict("last_admin", "This is the tenant's last active administrator; make someone else an administrator first.", [
                { field: changes.role === "user" ? "role" : "status", message: "The last active administrator cannot be demoted or disabled." },
              ]);
            }
            return apply();
          });
      // Every process learns of the change before the admin's answer leaves, so the user's very next
      // request meets the new role, status or limits; a disabled user is also signed out everywhere.
      await deps.changes.userChanged(after.tenantId, after.id);
      if (after.status === "disabled" && before.status !== "disabled") await deps.sessions.revokeUserSessions(after.tenantId, after.id);
      return { before, after };
    },

    /** Internal (the admin service authorizes): a tenant's sign-in policy. */
    async tenantPolicy(tenantId: string): Promise<Tenant> {
      const tenant = await deps.tenants.findById(tenantId);
      if (!tenant) throw notFound("tenant");
      return tenant;
    },

    async updateTenantPolicy(tenantId: string, changes: { minPasswordLength?: number; selfRegistration?: boolean }): Promise<Tenant> {
      const problems = tenantProblems(changes);
      if (problems.length > 0) throw validationFailed(problems);
      const tenant = await deps.tenants.update(tenantId, changes);
      if (!tenant) throw notFound("tenant");
      await deps.changes.tenantsChanged();
      return tenant;
    },

    async listTenants(claims: Caller, limit: number, after?: string): Promise<Tenant[]> {
      await requireOperator(claims);
      return deps.tenants.list(limit, after);
    },

    async getTenant(claims: Caller, id: string): Promise<Tenant> {
      await requireOperator(claims);
      const tenant = await deps.tenants.findById(id);
      if (!tenant) throw notFound("tenant");
      return tenant;
    },

    async createTenant(claims: Caller, input: { slug: string; name: string; domains: string[]; timeZone?: string }): Promise<Tenant> {
      await requireOperator(claims);
      const domains = input.domains.map(normalizeHost);
      const problems = tenantProblems({ ...input, domains });
      if (problems.length > 0) throw validationFailed(problems);
      if (await deps.tenants.findBySlug(input.slug)) throw conflict("slug_taken", "That slug is already used.", [{ field: "slug", message: "That slug is already used." }]);
      await assertDomainsFree(domains);
      const tenant = await deps.tenants.create({ id: input.slug, slug: input.slug, name: input.name.trim(), domains, timeZone: input.timeZone ?? "UTC", minPasswordLength: 8, selfRegistration: true });
      // Hosts that resolved to the default tenant until now belong to the new one.
      await deps.changes.tenantsChanged();
      return tenant;
    },

    async updateTenant(claims: Caller, id: string, changes: { name?: string; domains?: string[]; timeZone?: string; minPasswordLength?: number; selfRegistration?: boolean }): Promise<Tenant> {
      await requireOperator(claims);
      const normalized = { ...changes, ...(changes.domains ? { domains: changes.domains.map(normalizeHost) } : {}) };
      const problems = tenantProblems(normalized);
      if (problems.length > 0) throw validationFailed(problems);
      if (normalized.domains) await assertDomainsFree(normalized.domains, id);
      const tenant = await deps.tenants.update(id, normalized);
      if (!tenant) throw notFound("tenant");
      await deps.changes.tenantsChanged();
      return tenant;
    },
  };
}

export type AdminUseCases = ReturnType<typeof createAdminUseCases>;
