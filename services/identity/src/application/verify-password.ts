import { forbidden, tooManyRequests, unauthenticated } from "@tessera/platform";
import type { LoginThrottle, PasswordHasher, UserRepository } from "../domain/ports.ts";
import { normalizeEmail, normalizeUsername, type User } from "../domain/user.ts";

export interface VerifyPasswordInput {
  tenantId: string;
  login: string;
  password: string;
  clientIp: string;
}

/**
 * Password sign-in. Unknown users, users without a password and wrong passwords get the same
 * answer after the same hashing work, so neither the message nor the timing tells them apart.
 */
export function makeVerifyPassword(deps: { users: UserRepository; hasher: PasswordHasher; throttle: LoginThrottle; dummyHash: string }) {
  return async function verifyPassword(input: VerifyPasswordInput): Promise<User> {
    const login = input.login.includes("@") ? normalizeEmail(input.login) : normalizeUsername(input.login);
    const keys = [`account:${input.tenantId}:${login}`, `ip:${input.clientIp || "unknown"}`];
    const wait = await deps.throttle.retryAfterSeconds(keys);
    if (wait > 0) throw tooManyRequests("Too many sign-in attempts; try again later.", wait, "login_throttled");

    const user = login.length > 0 && login.length <= 254 ? await deps.users.findByLogin(input.tenantId, login) : null;
    const password = input.password.slice(0, 1024);
    const valid = await deps.hasher.verify(user?.passwordHash ?? deps.dummyHash, password);
    if (!user || !user.passwordHash || !valid) {
      await deps.throttle.recordFailure(keys);
      throw unauthenticated("The sign-in details are not correct.", "invalid_credentials");
    }
    if (user.status === "disabled") throw forbidden("This account is disabled.", "account_disabled");
    await deps.throttle.reset([keys[0]!]);
    if (deps.hasher.needsRehash(user.passwordHash)) {
      const passwordHash = await deps.hasher.hash(password);
      return (await deps.users.update(user.tenantId, user.id, { passwordHash })) ?? user;
    }
    return user;
  };
}
