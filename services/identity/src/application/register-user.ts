import { conflict } from "@tessera/platform";
import { passwordProblem } from "../domain/password-policy.ts";
import type { CommonPasswords, PasswordHasher, TenantRepository, UserRepository } from "../domain/ports.ts";
import { emailProblem, normalizeEmail, normalizeUsername, throwIfProblems, usernameProblem, type User } from "../domain/user.ts";
import { notFound } from "@tessera/platform";

export interface RegisterUserInput {
  tenantId: string;
  email: string;
  username: string;
  password: string;
  fullName: string;
}

export class DuplicateUserError extends Error {
  readonly field: "email" | "username";
  constructor(field: "email" | "username") {
    super(`${field} taken`);
    this.field = field;
  }
}

export function makeRegisterUser(deps: {
  users: UserRepository;
  tenants: TenantRepository;
  hasher: PasswordHasher;
  commonPasswords: CommonPasswords;
}) {
  return async function registerUser(input: RegisterUserInput, role: User["role"] = "user"): Promise<User> {
    const tenant = await deps.tenants.findById(input.tenantId);
    if (!tenant) throw notFound("tenant");
    const email = normalizeEmail(input.email);
    const username = normalizeUsername(input.username);
    throwIfProblems([
      emailProblem(email),
      usernameProblem(username),
      passwordProblem(input.password, tenant.minPasswordLength, (password) => deps.commonPasswords.has(password)),
      input.fullName.length > 200 ? { field: "fullName", message: "Use at most 200 characters." } : undefined,
    ]);
    const passwordHash = await deps.hasher.hash(input.password);
    try {
      return await deps.users.create({ tenantId: tenant.id, email, username, fullName: input.fullName.trim(), role, passwordHash });
    } catch (error) {
      if (error instanceof DuplicateUserError) {
        throw conflict(`${error.field}_taken`, `That ${error.field} is already registered.`, [
          { field: error.field, message: `That ${error.field} is already registered.` },
        ]);
      }
      throw error;
    }
  };
}
