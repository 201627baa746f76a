import type { Redis } from "@tessera/platform";
import type { RefreshState, RefreshStore, RotationOutcome } from "../../domain/ports.ts";
import { sessionEndsKey } from "./redis-session-ends.ts";

// One hash per session: <prefix>session:refresh:<id> with the fields of RefreshState; it expires
// with the session. Rotation, reuse detection and the grace window are one script, which also
// moves the session's end in the sorted set of ends (see redis-session-ends.ts).
// KEYS: state, ends. ARGV: presented hash, candidate token, candidate hash, now ms, grace ms,
// lifetime ms of a remembered session, lifetime ms of a browser session, session id.
const ROTATE = `
local state = redis.call('HMGET', KEYS[1], 'refreshHash', 'previousRefreshHash', 'rotatedAt', 'successor', 'expiresAt', 'role', 'tenantId', 'userId', 'rememberMe')
if not state[1] then return {'missing'} end
local now = tonumber(ARGV[4])
if tonumber(state[5]) <= now then return {'ended'} end
if ARGV[1] == state[1] then
  local lifetime = ARGV[7]
  if state[9] == '1' then lifetime = ARGV[6] end
  local expiresAt = now + tonumber(lifetime)
  redis.call('HSET', KEYS[1], 'refreshHash', ARGV[3], 'previousRefreshHash', ARGV[1], 'rotatedAt', ARGV[4], 'successor', ARGV[2], 'expiresAt', expiresAt)
  redis.call('PEXPIREAT', KEYS[1], expiresAt)
  redis.call('ZADD', KEYS[2], expiresAt, ARGV[8])
  return {'rotated', ARGV[2], state[6], state[7], state[8], state[9], tostring(expiresAt)}
end
if state[2] and ARGV[1] == state[2] and now - tonumber(state[3] or '0') <= tonumber(ARGV[5]) then
  return {'grace', state[4], state[6], state[7], state[8], state[9], state[5]}
end
redis.call('DEL', KEYS[1])
return {'reused'}
`;

// Seeds a session's state unless it is there already (a session of an earlier version, known
// only to the database). KEYS: state, ends. ARGV: expiry ms, session id, field/value pairs...
const SEED = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIREAT', KEYS[1], tonumber(ARGV[1]))
redis.call('ZADD', KEYS[2], tonumber(ARGV[1]), ARGV[2])
return 1
`;

type ScriptRedis = Redis & {
  sessionRotate(...args: Array<string | number>): Promise<string[]>;
  sessionSeed(...args: Array<string | number>): Promise<number>;
};

/** Refresh-token state in Redis (AOF keeps it across restarts); the database is written behind. */
export function createRedisRefreshStore(redis: Redis, prefix: string): RefreshStore {
  const scripts = redis as ScriptRedis;
  redis.defineCommand("sessionRotate", { numberOfKeys: 2, lua: ROTATE });
  redis.defineCommand("sessionSeed", { numberOfKeys: 2, lua: SEED });
  const key = (id: string) => `${prefix}session:refresh:${id}`;
  const endsKey = sessionEndsKey(prefix);
  const fields = (state: RefreshState) => [
    "tenantId",
    state.tenantId,
    "userId",
    state.userId,
    "role",
    state.role,
    "rememberMe",
    state.rememberMe ? "1" : "0",
    "expiresAt",
    state.expiresAt.getTime(),
    "refreshHash",
    state.refreshHash,
  ];
  return {
    async put(sessionId, state) {
      await redis
        .multi()
        .hset(key(sessionId), ...fields(state))
        .pexpireat(key(sessionId), state.expiresAt.getTime())
        .zadd(endsKey, state.expiresAt.getTime(), sessionId)
        .exec();
    },
    async seed(sessionId, state) {
      return (await scripts.sessionSeed(key(sessionId), endsKey, state.expiresAt.getTime(), sessionId, ...fields(state))) === 1;
    },
    async get(sessionId) {
      const state = await redis.hgetall(key(sessionId));
      if (!state.refreshHash) return null;
      return {
        tenantId: state.tenantId ?? "",
        userId: state.userId ?? "",
        role: state.role === "admin" ? "admin" : "user",
        rememberMe: state.rememberMe === "1",
        expiresAt: new Date(Number(state.expiresAt)),
        refreshHash: state.refreshHash,
        previousRefreshHash: state.previousRefreshHash ?? null,
      };
    },
    async rotate(sessionId, presentedHash, candidate, now, lifetimes, graceMs): Promise<RotationOutcome> {
      const [kind, token, role, tenantId, userId, rememberMe, expiresAt] = await scripts.sessionRotate(
        key(sessionId),
        endsKey,
        presentedHash,
        candidate.token,
        candidate.hash,
        now.getTime(),
        graceMs,
        lifetimes.rememberedMs,
        lifetimes.sessionMs,
        sessionId,
      );
      if (kind === "rotated" || kind === "grace")
        return {
          kind,
          token: token!,
          state: {
            role: role === "admin" ? "admin" : "user",
            tenantId: tenantId!,
            userId: userId!,
            rememberMe: rememberMe === "1",
            expiresAt: new Date(Number(expiresAt)),
          },
        };
      return kind === "reused" ? { kind } : kind === "ended" ? { kind } : { kind: "missing" };
    },
    async setRole(sessionId, role) {
      await redis.hset(key(sessionId), "role", role);
    },
    async end(sessionId) {
      await redis.del(key(sessionId));
    },
  };
}
