import { unavailable, type Redis } from "@tessera/platform";
import type { CounterValues, LiveCounters, ReserveOutcome } from "../../domain/ports.ts";
import type { DayUsage, UserDay } from "../../domain/usage.ts";

// Key layout (all keys of one user share the {tenant:user} hash tag, so they live in one slot):
//   <prefix>quota:{t:u}:<day>          hash: m, t (messages incl. pending reservations, tokens),
//                                      m:<model>, t:<model> (settled per model)
//   <prefix>quota:{t:u}:<day>:events   set of counted event ids (the dedup record)
//   <prefix>quota:{t:u}:pending        hash: reservationId -> "<day>|<expiresAtMs>"
// Every key carries a TTL. Scripts build other days' keys from the base, which is safe because
// they share the hash tag.

// Gives back reservations past their expiry (KEYS[2] pending hash, ARGV[2] now, ARGV[8] key base).
const EXPIRE_PENDING = `
local now = tonumber(ARGV[2])
local pending = redis.call('HGETALL', KEYS[2])
for i = 1, #pending, 2 do
  local day, expires = string.match(pending[i + 1], '^([^|]+)|(%d+)$')
  if tonumber(expires) <= now then
    redis.call('HDEL', KEYS[2], pending[i])
    local dayKey = ARGV[8] .. day
    if redis.call('EXISTS', dayKey) == 1 and tonumber(redis.call('HGET', dayKey, 'm') or '0') > 0 then redis.call('HINCRBY', dayKey, 'm', -1) end
  end
end
`;

const RESERVE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, 0} end
${EXPIRE_PENDING}
local m = tonumber(redis.call('HGET', KEYS[1], 'm') or '0')
local t = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {2, m, t} end
if m >= tonumber(ARGV[5]) or t >= tonumber(ARGV[6]) then return {0, m, t} end
redis.call('HINCRBY', KEYS[1], 'm', 1)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4] .. '|' .. ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[9]))
return {1, m + 1, t}
`;

// KEYS: day hash, pending hash. ARGV: (unused), now, (unused ×5), base.
const READ = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, 0} end
${EXPIRE_PENDING}
return {1, tonumber(redis.call('HGET', KEYS[1], 'm') or '0'), tonumber(redis.call('HGET', KEYS[1], 't') or '0')}
`;

const RELEASE = `
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local day = string.match(entry, '^([^|]+)|')
local dayKey = ARGV[2] .. day
if redis.call('EXISTS', dayKey) == 1 and tonumber(redis.call('HGET', dayKey, 'm') or '0') > 0 then redis.call('HINCRBY', dayKey, 'm', -1) end
return 1
`;

// KEYS: day hash, events set, pending hash. ARGV: eventId, model, messages, tokens, reservationId, ttl, base, day.
const APPLY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 0 end
local messages = tonumber(ARGV[3])
local counted = messages
if ARGV[5] ~= '' then
  local entry = redis.call('HGET', KEYS[3], ARGV[5])
  if entry then
    redis.call('HDEL', KEYS[3], ARGV[5])
    local day = string.match(entry, '^([^|]+)|')
    if day == ARGV[8] then
      counted = counted - 1
    else
      local dayKey = ARGV[7] .. day
      if redis.call('EXISTS', dayKey) == 1 and tonumber(redis.call('HGET', dayKey, 'm') or '0') > 0 then redis.call('HINCRBY', dayKey, 'm', -1) end
    end
  end
end
if counted ~= 0 then redis.call('HINCRBY', KEYS[1], 'm', counted) end
redis.call('HINCRBY', KEYS[1], 't', tonumber(ARGV[4]))
redis.call('HINCRBY', KEYS[1], 'm:' .. ARGV[2], messages)
redis.call('HINCRBY', KEYS[1], 't:' .. ARGV[2], tonumber(ARGV[4]))
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[6]))
return 1
`;

// KEYS: day hash, events set. ARGV: ttl, messages, tokens, model count, (model, m, t)..., eventIds...
const INITIALIZE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'm', ARGV[2], 't', ARGV[3])
local models = tonumber(ARGV[4])
local i = 5
for _ = 1, models do
  redis.call('HSET', KEYS[1], 'm:' .. ARGV[i], ARGV[i + 1], 't:' .. ARGV[i], ARGV[i + 2])
  i = i + 3
end
redis.call('DEL', KEYS[2])
while i <= #ARGV do
  local last = math.min(i + 999, #ARGV)
  redis.call('SADD', KEYS[2], unpack(ARGV, i, last))
  i = last + 1
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[1]))
return 1
`;

type ScriptRedis = Redis & {
  quotaReserve(...args: Array<string | number>): Promise<[number, number, number]>;
  quotaRelease(...args: Array<string | number>): Promise<number>;
  quotaRead(...args: Array<string | number>): Promise<[number, number, number]>;
  quotaApply(...args: Array<string | number>): Promise<number>;
  quotaInitialize(...args: Array<string | number>): Promise<number>;
};

/** Connection failures become 503 so use cases can apply the configured outage policy. */
async function guarded<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof Error && /ReplyError/.test(error.name)) throw error;
    throw unavailable("The quota counter store", error);
  }
}

/** Live counters in Redis, each change one Lua script (counters and dedup record together). */
export function createRedisLiveCounters(redis: Redis, keyPrefix: string): LiveCounters {
  const scripts = redis as ScriptRedis;
  redis.defineCommand("quotaReserve", { numberOfKeys: 2, lua: RESERVE });
  redis.defineCommand("quotaRelease", { numberOfKeys: 1, lua: RELEASE });
  redis.defineCommand("quotaRead", { numberOfKeys: 2, lua: READ });
  redis.defineCommand("quotaApply", { numberOfKeys: 3, lua: APPLY });
  redis.defineCommand("quotaInitialize", { numberOfKeys: 2, lua: INITIALIZE });

  const base = (tenantId: string, userId: string) => `${keyPrefix}quota:{${tenantId}:${userId}}:`;
  const dayKey = (key: UserDay) => `${base(key.tenantId, key.userId)}${key.day}`;
  const pendingKey = (tenantId: string, userId: string) => `${base(tenantId, userId)}pending`;

  return {
    read: (key, now) =>
      guarded(async () => {
        const [exists, messages, tokens] = await scripts.quotaRead(
          dayKey(key),
          pendingKey(key.tenantId, key.userId),
          "",
          now.getTime(),
          "",
          "",
          "",
          "",
          "",
          base(key.tenantId, key.userId),
        );
        if (exists === -1) return null;
        return { messages, tokens } satisfies CounterValues;
      }),

    initialize: (key, usage: DayUsage, ttlSeconds) =>
      guarded(async () => {
        const models = Object.entries(usage.byModel).flatMap(([model, counts]) => [model, counts.messages, counts.tokens]);
        await scripts.quotaInitialize(
          dayKey(key),
          `${dayKey(key)}:events`,
          ttlSeconds,
          usage.messages,
          usage.tokens,
          models.length / 3,
          ...models,
          ...usage.eventIds,
        );
      }),

    reserve: (key, reservation, limits, now, ttlSeconds) =>
      guarded(async (): Promise<ReserveOutcome> => {
        const [kind, messages, tokens] = await scripts.quotaReserve(
          dayKey(key),
          pendingKey(key.tenantId, key.userId),
          reservation.id,
          now.getTime(),
          reservation.expiresAt.getTime(),
          key.day,
          limits.messages,
          limits.tokens,
          ttlSeconds,
          base(key.tenantId, key.userId),
          Math.max(60, Math.ceil((reservation.expiresAt.getTime() - now.getTime()) / 1000) * 2),
        );
        if (kind === -1) return { kind: "missing" };
        const used = { messages, tokens };
        return { kind: kind === 1 ? "reserved" : kind === 2 ? "already_reserved" : "refused", used };
      }),

    release: (user, reservationId) =>
      guarded(async () => (await scripts.quotaRelease(pendingKey(user.tenantId, user.userId), reservationId, base(user.tenantId, user.userId))) === 1),

    apply: (key, effect, reservationId, ttlSeconds) =>
      guarded(async () => {
        const result = await scripts.quotaApply(
          dayKey(key),
          `${dayKey(key)}:events`,
          pendingKey(key.tenantId, key.userId),
          effect.eventId,
          effect.model,
          effect.messages,
          effect.tokens,
          reservationId ?? "",
          ttlSeconds,
          base(key.tenantId, key.userId),
          key.day,
        );
        return result === -1 ? "missing" : result === 0 ? "duplicate" : "applied";
      }),
  };
}
