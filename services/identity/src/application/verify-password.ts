import { forbidden, tooManyRequests, unauthenticated } from "@tessera/platform";
import type { AttemptThrottle, PasswordHasher, UserRepository } from "../domain/ports.ts";
import { normalizeEmail, normalizeUsername, type User } from "../domain/user.ts";

export interface VerifyPasswordInput {
  tenantId: string;
  login: string;
  password: string;
  clientIp: string;
  /** The browser's device cookie, when it has one. */
  deviceId?: string | undefined;
}

const DEVICE_ID_PATTERN = /^[A-Za-z0-9_-]{20,100}$/;

/**
 * Password sign-in. Unknown users, users without a password and wrong passwords get the same
 * answer after the same hashing work, so neither the message nor the timing tells them apart.
 *
 * Every attempt is counted before the password is checked: per account (one counter whether the
 * login was the email or the username) and per client IP. A device that signed in to the account
 * before (OWASP's device cookie) counts on its own counter instead, so a stranger who trips the
 * account's limit does not lock its owner out.
 */
export function makeVerifyPassword(deps: { users: UserRepository; hasher: PasswordHasher; throttle: AttemptThrottle; dummyHash: string }) {
  return async function verifyPassword(input: VerifyPasswordInput): Promise<User> {
    const login = input.login.includes("@") ? normalizeEmail(input.login) : normalizeUsername(input.login);
    const user = login.length > 0 && login.length <= 254 ? await deps.users.findByLogin(input.tenantId, login) : null;
    const account = user ? `user:${user.tenantId}:${user.id}` : `login:${input.tenantId}:${login}`;
    const deviceId = input.deviceId && DEVICE_ID_PATTERN.test(input.deviceId) ? input.deviceId : undefined;
    const knownDevice = user !== null && deviceId !== undefined && (await deps.throttle.isKnownDevice(account, deviceId));
    const keys = knownDevice ? [`device:${account}:${deviceId}`] : [`account:${account}`, `ip:${input.clientIp || "unknown"}`];
    const wait = await deps.throttle.attempt(keys);
    if (wait > 0) throw tooManyRequests("Too many sign-in attempts; try again later.", wait, "login_throttled");

    const password = input.password.slice(0, 1024);
    const valid = await deps.hasher.verify(user?.passwordHash ?? deps.dummyHash, password);
    if (!user || !user.passwordHash || !valid) throw unauthenticated("The sign-in details are not correct.", "invalid_credentials");
    if (user.status === "disabled") throw forbidden("This account is disabled.", "account_disabled");
    // The owner is in: this client's counters start afresh and a good sign-in costs the IP nothing.
    // A known device clears only its own counter, so a stranger's lock-out of the account holds.
    if (knownDevice) await deps.throttle.reset(keys);
    else {
      await deps.throttle.reset([keys[0]!]);
      await deps.throttle.refund([keys[1]!]);
    }
    if (deviceId) await deps.throttle.rememberDevice(account, deviceId);
    if (deps.hasher.needsRehash(user.passwordHash)) {
      const passwordHash = await deps.hasher.hash(password);
      return (await deps.users.update(user.tenantId, user.id, { passwordHash })) ?? user;
    }
    return user;
  };
}
