import { conflict, forbidden, notFound, tooManyRequests } from "@tessera/platform";
import { passwordProblem } from "../domain/password-policy.ts";
import type { AttemptThrottle, CommonPasswords, PasswordHasher, TenantRepository, UserRepository } from "../domain/ports.ts";
import type { Tenant } from "../domain/tenant.ts";
import { emailProblem, normalizeEmail, normalizeUsername, throwIfProblems, usernameProblem, type User } from "../domain/user.ts";

export interface RegisterUserInput {
  tenantId: string;
  email: string;
  username: string;
  password: string;
  fullName: string;
  /** The client's IP for the registration throttle; absent for accounts the system creates itself (seeding). */
  clientIp?: string | undefined;
}

export class DuplicateUserError extends Error {
  readonly field: "email" | "username";
  constructor(field: "email" | "username") {
    super(`${field} taken`);
    this.field = field;
  }
}

const taken = (field: "email" | "username") =>
  conflict(`${field}_taken`, `That ${field} is already registered.`, [{ field, message: `That ${field} is already registered.` }]);

/**
 * The door of every self-service account creation (a password registration or a first sign-in
 * with a provider): refused when the tenant closed self-registration, throttled per client IP and
 * per tenant.
 */
export function makeSelfRegistrationGate(deps: { throttle: AttemptThrottle }) {
  return async function admitSelfRegistration(tenant: Pick<Tenant, "id" | "selfRegistration">, clientIp: string): Promise<void> {
    if (!tenant.selfRegistration) throw forbidden("Registration is closed on this site; ask an administrator for an account.", "registration_closed");
    const wait = await deps.throttle.attempt([`register-ip:${clientIp || "unknown"}`, `register-tenant:${tenant.id}`]);
    if (wait > 0) throw tooManyRequests("Too many registrations; try again later.", wait, "registration_throttled");
  };
}

/**
 * Registration. Self-registration (a client IP is given) is throttled per IP and per tenant and
 * refused when the tenant closed it; the costly password hash is computed only once the email and
 * username are known to be free (the unique indexes still settle a race between two registrations).
 */
export function makeRegisterUser(deps: {
  users: UserRepository;
  tenants: TenantRepository;
  hasher: PasswordHasher;
  commonPasswords: CommonPasswords;
  throttle: AttemptThrottle;
}) {
  const admitSelfRegistration = makeSelfRegistrationGate(deps);
  return async function registerUser(input: RegisterUserInput, role: User["role"] = "user"): Promise<User> {
    const tenant = await deps.tenants.findById(input.tenantId);
    if (!tenant) throw notFound("tenant");
    const selfService = input.clientIp !== undefined;
    // A closed door answers before anything else is looked at.
    if (selfService && !tenant.selfRegistration) throw forbidden("Registration is closed on this site; ask an administrator for an account.", "registration_closed");
    const email = normalizeEmail(input.email);
    const username = normalizeUsername(input.username);
    throwIfProblems([
      emailProblem(email),
      usernameProblem(username),
      passwordProblem(input.password, tenant.minPasswordLength, (password) => deps.commonPasswords.has(password)),
      input.fullName.length > 200 ? { field: "fullName", message: "Use at most 200 characters." } : undefined,
    ]);
    if (selfService) await admitSelfRegistration(tenant, input.clientIp!);
    if (await deps.users.findByLogin(tenant.id, email)) throw taken("email");
    if (await deps.users.findByLogin(tenant.id, username)) throw taken("username");
    const passwordHash = await deps.hasher.hash(input.password);
    try {
      return await deps.users.create({ tenantId: tenant.id, email, username, fullName: input.fullName.trim(), role, passwordHash });
    } catch (error) {
      if (error instanceof DuplicateUserError) throw taken(error.field);
      throw error;
    }
  };
}
