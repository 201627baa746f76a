import type { CommonPasswords, LoginThrottle, PasswordHasher, TenantRepository, UserRepository } from "../domain/ports.ts";
import { makeRegisterUser } from "./register-user.ts";
import { makeResolveTenant } from "./resolve-tenant.ts";
import { makeSeed } from "./seed.ts";
import { makeVerifyPassword } from "./verify-password.ts";

export interface IdentityPorts {
  users: UserRepository;
  tenants: TenantRepository;
  hasher: PasswordHasher;
  commonPasswords: CommonPasswords;
  throttle: LoginThrottle;
  /** A hash of a random password, verified against when the user does not exist (equal timing). */
  dummyHash: string;
}

/** Wires the identity use cases over their ports. */
export function createIdentityUseCases(ports: IdentityPorts) {
  const registerUser = makeRegisterUser(ports);
  return {
    users: ports.users,
    tenants: ports.tenants,
    registerUser,
    verifyPassword: makeVerifyPassword(ports),
    resolveTenant: makeResolveTenant(ports.tenants),
    seed: makeSeed({ ...ports, registerUser }),
  };
}

export type IdentityUseCases = ReturnType<typeof createIdentityUseCases>;
