import { createHash } from "node:crypto";
import { unavailable, type Redis } from "@tessera/platform";
import type { AttemptThrottle } from "../../domain/ports.ts";

export interface ThrottleLimits {
  /** Password attempts per account (and per known device, and per password change) within the window. */
  perAccount: number;
  /** Sign-in attempts per client IP within the window. */
  perIp: number;
  /** Registrations per client IP within the window. */
  registrationsPerIp: number;
  /** Registrations per tenant within the window. */
  registrationsPerTenant: number;
  windowSeconds: number;
  /** The first lock-out; each further one within a day doubles, up to `maxLockSeconds`. */
  baseLockSeconds: number;
  maxLockSeconds: number;
}

/** How long a device stays known to an account after signing in to it. */
const KNOWN_DEVICE_SECONDS = 180 * 24 * 3600;
/** How long the back-off remembers earlier lock-outs. */
const STRIKE_MEMORY_MS = 24 * 3600 * 1000;

// KEYS: per key three (counter, lock, strikes). ARGV: window ms, base lock ms, max lock ms, strike
// memory ms, then one limit per key. Refuses while any key is locked; otherwise counts the attempt
// on every key, and a key past its limit locks for base * 2^(strikes-1) (the attempt is refused).
const ATTEMPT = `
local window, base, max, memory = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local count = #KEYS / 3
local wait = 0
for i = 0, count - 1 do
  local ttl = redis.call('PTTL', KEYS[i * 3 + 2])
  if ttl > wait then wait = ttl end
end
if wait > 0 then return wait end
for i = 0, count - 1 do
  local n = redis.call('INCR', KEYS[i * 3 + 1])
  if n == 1 then redis.call('PEXPIRE', KEYS[i * 3 + 1], window) end
  if n > tonumber(ARGV[5 + i]) then
    local strikes = redis.call('INCR', KEYS[i * 3 + 3])
    redis.call('PEXPIRE', KEYS[i * 3 + 3], memory)
    local lock = math.min(base * 2 ^ (strikes - 1), max)
    redis.call('SET', KEYS[i * 3 + 2], '1', 'PX', math.floor(lock))
    redis.call('DEL', KEYS[i * 3 + 1])
    if lock > wait then wait = lock end
  end
end
if wait > 0 then
  for i = 0, count - 1 do
    local key = KEYS[i * 3 + 1]
    if redis.call('EXISTS', key) == 1 and tonumber(redis.call('GET', key)) > 0 then redis.call('DECR', key) end
  end
end
return wait
`;

const REFUND = `
for i = 1, #KEYS do
  local n = tonumber(redis.call('GET', KEYS[i]) or '0')
  if n > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
`;

type ThrottleRedis = Redis & {
  throttleAttempt(...args: Array<string | number>): Promise<number>;
  throttleRefund(...args: Array<string | number>): Promise<number>;
};

/**
 * Attempt counters in Redis, counted before the password is checked, in one Lua script, so a burst
 * of parallel attempts gets at most the limit's worth through; a tripped key backs off
 * exponentially. Keys hash their subject, so logins and IPs do not sit in Redis in clear text.
 */
export function createRedisAttemptThrottle(redis: Redis, prefix: string, limits: ThrottleLimits): AttemptThrottle {
  const client = redis as ThrottleRedis;
  if (!("throttleAttempt" in client)) {
    redis.defineCommand("throttleAttempt", { lua: ATTEMPT });
    redis.defineCommand("throttleRefund", { lua: REFUND });
  }
  const digest = (key: string) => createHash("sha256").update(key).digest("base64url");
  const counterOf = (key: string) => `${prefix}throttle:n:${digest(key)}`;
  const lockOf = (key: string) => `${prefix}throttle:lock:${digest(key)}`;
  const strikesOf = (key: string) => `${prefix}throttle:strikes:${digest(key)}`;
  const deviceOf = (account: string, deviceId: string) => `${prefix}known-device:${digest(`${account}\n${deviceId}`)}`;
  const limitOf = (key: string) => {
    if (key.startsWith("ip:")) return limits.perIp;
    if (key.startsWith("register-ip:")) return limits.registrationsPerIp;
    if (key.startsWith("register-tenant:")) return limits.registrationsPerTenant;
    return limits.perAccount;
  };
  // Without its counters the throttle cannot protect anything: refuse (503) rather than guess.
  const guarded = <T>(work: Promise<T>) =>
    work.catch((error: unknown) => {
      throw unavailable("Sign-in", error);
    });

  return {
    async attempt(keys) {
      if (keys.length === 0) return 0;
      const redisKeys = keys.flatMap((key) => [counterOf(key), lockOf(key), strikesOf(key)]);
      const waitMs = await guarded(
        client.throttleAttempt(redisKeys.length, ...redisKeys, limits.windowSeconds * 1000, limits.baseLockSeconds * 1000, limits.maxLockSeconds * 1000, STRIKE_MEMORY_MS, ...keys.map(limitOf)),
      );
      return Math.ceil(Number(waitMs) / 1000);
    },
    async reset(keys) {
      if (keys.length === 0) return;
      await guarded(redis.del(...keys.flatMap((key) => [counterOf(key), lockOf(key), strikesOf(key)])));
    },
    async refund(keys) {
      if (keys.length === 0) return;
      await guarded(client.throttleRefund(keys.length, ...keys.map(counterOf)));
    },
    async isKnownDevice(account, deviceId) {
      return (await guarded(redis.exists(deviceOf(account, deviceId)))) === 1;
    },
    async rememberDevice(account, deviceId) {
      await guarded(redis.set(deviceOf(account, deviceId), "1", "EX", KNOWN_DEVICE_SECONDS));
    },
  };
}
