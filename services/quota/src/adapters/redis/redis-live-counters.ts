import { newUuid, unavailable, type Redis } from "@tessera/platform";
import type { CounterChange, CounterValues, ExpiredReservation, Journal, LiveCounters, ReserveOutcome, RollupDelta } from "../../domain/ports.ts";
import type { DayUsage, UserDay } from "../../domain/usage.ts";

// Key layout. A user's keys share the {tenant:user} hash tag:
//   <prefix>quota:{t:u}:<day>          hash: m (messages incl. pending reservations), t (settled
//                                      tokens), r (estimated tokens of pending reservations),
//                                      m:<model>, t:<model> (settled per model)
//   <prefix>quota:{t:u}:<day>:events   set of counted event ids of events without a reservation
//   <prefix>quota:{t:u}:pending        hash: reservationId -> "<day>|<expiresAtMs>|<estimate>"
//   <prefix>quota:{t:u}:settled        hash: reservationId -> day (settled or charged reservations)
// Shared by every user:
//   <prefix>quota:expiring             sorted set "<t>|<u>|<reservationId>" by expiry (or claim lease)
//   <prefix>quota:journal              sorted set of journal ids (random) by sequence
//   <prefix>quota:journal:seq          the sequence
//   <prefix>quota:journal:<id>         hash: "<tenant>/<user>/<day>|<field>" -> what the journal's
//                                      events add (m, t, m:<model>, t:<model>)
//   <prefix>quota:journal:<id>:keys    list of "<tenant>/<user>/<day>|<usage key>" of its events
// Per-user keys carry a TTL; journals live until written to the rollups. The scripts name keys
// they derive (other days, the pending hash of a claimed reservation): one Redis, not a cluster.

const RESERVE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, 0} end
local m = tonumber(redis.call('HGET', KEYS[1], 'm') or '0')
local t = tonumber(redis.call('HGET', KEYS[1], 't') or '0') + tonumber(redis.call('HGET', KEYS[1], 'r') or '0')
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {2, m, t} end
if m >= tonumber(ARGV[4]) or t >= tonumber(ARGV[5]) then return {0, m, t} end
local estimate = tonumber(ARGV[7])
redis.call('HINCRBY', KEYS[1], 'm', 1)
if estimate > 0 then redis.call('HINCRBY', KEYS[1], 'r', estimate) end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3] .. '|' .. ARGV[2] .. '|' .. ARGV[7])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[8])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[6]))
return {1, m + 1, t + estimate}
`;

const READ = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, 0} end
return {1, tonumber(redis.call('HGET', KEYS[1], 'm') or '0'), tonumber(redis.call('HGET', KEYS[1], 't') or '0') + tonumber(redis.call('HGET', KEYS[1], 'r') or '0')}
`;

// Takes a pending reservation off its day (message and estimate). KEYS[1] pending hash; the
// function returns the reservation's day, or nil when it was not pending.
const UNHOLD = `
local function unhold(pendingKey, expiringKey, reservationId, member, base, sameDayKey, sameDay)
  local entry = redis.call('HGET', pendingKey, reservationId)
  if not entry then return nil end
  redis.call('HDEL', pendingKey, reservationId)
  redis.call('ZREM', expiringKey, member)
  local day, _, estimate = string.match(entry, '^([^|]+)|(%d+)|?(%d*)$')
  estimate = tonumber(estimate) or 0
  local dayKey = base .. day
  if day == sameDay then dayKey = sameDayKey end
  if redis.call('EXISTS', dayKey) == 1 then
    if tonumber(redis.call('HGET', dayKey, 'm') or '0') > 0 then redis.call('HINCRBY', dayKey, 'm', -1) end
    if estimate > 0 then redis.call('HINCRBY', dayKey, 'r', -estimate) end
  end
  return day
end
`;

// KEYS: pending hash, expiring set. ARGV: reservationId, member, base.
const RELEASE = `
${UNHOLD}
if unhold(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], '', '') then return 1 end
return 0
`;

// Applies a chunk of events in order, each unless its usage key was counted before.
// KEYS: expiring set, journal hash, journal keys. ARGV: key prefix, then per event the
// APPLY_FIELDS: tenant, user, day, eventId, model, messages, tokens, reservationId, ttl, usage key.
// Returns per event 1 (applied), 0 (duplicate) or -1 (the day's counters are missing). What the
// chunk adds to the journal is summed here and written once per field; lifetimes are set once
// per key.
const APPLY_FIELDS = 10;
const APPLY_BATCH = `
${UNHOLD}
local prefix = ARGV[1]
local results = {}
local present = {}
local lifetimes = {}
local journal = {}
local usageKeys = {}
local function add(field, amount)
  journal[field] = (journal[field] or 0) + amount
end
local e = 0
for i = 2, #ARGV, ${APPLY_FIELDS} do
  e = e + 1
  local tenant, user, day, eventId, model = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local reservationId, ttl = ARGV[i + 7], tonumber(ARGV[i + 8])
  local base = prefix .. 'quota:{' .. tenant .. ':' .. user .. '}:'
  local dayKey = base .. day
  if present[dayKey] == nil then present[dayKey] = redis.call('EXISTS', dayKey) == 1 end
  if not present[dayKey] then
    results[e] = -1
  else
    local settledKey = base .. 'settled'
    local eventsKey = dayKey .. ':events'
    -- Recording the usage key is the duplicate check (one call, not a lookup and a write).
    local first
    if reservationId ~= '' then first = redis.call('HSETNX', settledKey, reservationId, day) == 1
    else first = redis.call('SADD', eventsKey, eventId) == 1 end
    if not first then
      results[e] = 0
    else
      local messages, tokens = tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])
      if reservationId ~= '' then
        -- The held message (and estimate) is replaced by what the event counts.
        unhold(base .. 'pending', KEYS[1], reservationId, tenant .. '|' .. user .. '|' .. reservationId, base, dayKey, day)
        lifetimes[settledKey] = ttl
      else
        lifetimes[eventsKey] = ttl
      end
      redis.call('HINCRBY', dayKey, 'm', messages)
      redis.call('HINCRBY', dayKey, 't', tokens)
      redis.call('HINCRBY', dayKey, 'm:' .. model, messages)
      redis.call('HINCRBY', dayKey, 't:' .. model, tokens)
      lifetimes[dayKey] = ttl
      local r = tenant .. '/' .. user .. '/' .. day .. '|'
      add(r .. 'm', messages)
      add(r .. 't', tokens)
      add(r .. 'm:' .. model, messages)
      add(r .. 't:' .. model, tokens)
      table.insert(usageKeys, r .. ARGV[i + 9])
      results[e] = 1
    end
  end
end
for key, ttl in pairs(lifetimes) do redis.call('EXPIRE', key, ttl) end
for field, amount in pairs(journal) do redis.call('HINCRBY', KEYS[2], field, amount) end
if #usageKeys > 0 then redis.call('RPUSH', KEYS[3], unpack(usageKeys)) end
return results
`;

/** Events per script call: long enough to spread the call's cost, short enough not to hold Redis up (~1 ms). */
const APPLY_CHUNK = 100;

// KEYS: day hash, events set, settled hash. ARGV: ttl, messages, tokens, model count, (model, m, t)..., usage keys...
const INITIALIZE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'm', ARGV[2], 't', ARGV[3], 'r', 0)
local models = tonumber(ARGV[4])
local i = 5
for _ = 1, models do
  redis.call('HSET', KEYS[1], 'm:' .. ARGV[i], ARGV[i + 1], 't:' .. ARGV[i], ARGV[i + 2])
  i = i + 3
end
local day = ARGV[#ARGV]
while i < #ARGV do
  local key = ARGV[i]
  local kind, id = string.sub(key, 1, 2), string.sub(key, 3)
  if kind == 'r:' then redis.call('HSET', KEYS[3], id, day) else redis.call('SADD', KEYS[2], id) end
  i = i + 1
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], tonumber(ARGV[1])) end
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('EXPIRE', KEYS[3], tonumber(ARGV[1])) end
return 1
`;

// KEYS: expiring set. ARGV: now, lease until, limit, key prefix.
const CLAIM_EXPIRED = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local claimed = {}
for _, member in ipairs(due) do
  local tenant, user, reservationId = string.match(member, '^([^|]*)|([^|]*)|(.*)$')
  local entry = tenant and redis.call('HGET', ARGV[4] .. 'quota:{' .. tenant .. ':' .. user .. '}:pending', reservationId)
  if entry then
    redis.call('ZADD', KEYS[1], ARGV[2], member)
    table.insert(claimed, member)
    table.insert(claimed, entry)
  else
    redis.call('ZREM', KEYS[1], member)
  end
end
return claimed
`;

// Ordered by the sequence, named by a fresh id (rollups remember the last journal id they took,
// so ids must never repeat, not even after Redis lost its data and the sequence restarted).
const OPEN_JOURNAL = `
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[1]), ARGV[1])
return ARGV[1]
`;

type Args = Array<string | number>;
type ScriptRedis = Redis & {
  quotaReserve(...args: Args): Promise<[number, number, number]>;
  quotaRelease(...args: Args): Promise<number>;
  quotaRead(...args: Args): Promise<[number, number, number]>;
  quotaInitialize(...args: Args): Promise<number>;
  quotaClaimExpired(...args: Args): Promise<string[]>;
  quotaOpenJournal(...args: Args): Promise<string>;
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

// Tenant ids are slugs and user ids hex: "/" and "|" cannot be ambiguous.
export const rollupIdOf = (key: UserDay) => `${key.tenantId}/${key.userId}/${key.day}`;

/** A journal hash back into per-user-day deltas. */
function parseJournal(id: string, fields: Record<string, string>, keys: string[]): Journal {
  const deltas = new Map<string, RollupDelta>();
  const deltaOf = (rollupId: string) => {
    let delta = deltas.get(rollupId);
    if (!delta) {
      const [tenantId = "", userId = "", day = ""] = rollupId.split("/");
      delta = { key: { tenantId, userId, day }, messages: 0, tokens: 0, byModel: {}, usageKeys: [] };
      deltas.set(rollupId, delta);
    }
    return delta;
  };
  for (const entry of keys) {
    const bar = entry.indexOf("|");
    deltaOf(entry.slice(0, bar)).usageKeys.push(entry.slice(bar + 1));
  }
  for (const [field, value] of Object.entries(fields)) {
    const bar = field.indexOf("|");
    const delta = deltaOf(field.slice(0, bar));
    const name = field.slice(bar + 1);
    // Journals of earlier versions kept their usage keys in the hash.
    if (name === "k") delta.usageKeys.push(...value.split(","));
    else if (name === "m") delta.messages = Number(value);
    else if (name === "t") delta.tokens = Number(value);
    else {
      const model = name.slice(2);
      const counts = (delta.byModel[model] ??= { messages: 0, tokens: 0 });
      if (name.startsWith("m:")) counts.messages = Number(value);
      else counts.tokens = Number(value);
    }
  }
  return { id, deltas: [...deltas.values()] };
}

/** Live counters in Redis, each change one Lua script (counters, dedup record and journal together). */
export function createRedisLiveCounters(redis: Redis, keyPrefix: string): LiveCounters {
  const scripts = redis as ScriptRedis;
  redis.defineCommand("quotaReserve", { numberOfKeys: 3, lua: RESERVE });
  redis.defineCommand("quotaRelease", { numberOfKeys: 2, lua: RELEASE });
  redis.defineCommand("quotaRead", { numberOfKeys: 1, lua: READ });
  redis.defineCommand("quotaApplyBatch", { numberOfKeys: 3, lua: APPLY_BATCH });
  redis.defineCommand("quotaInitialize", { numberOfKeys: 3, lua: INITIALIZE });
  redis.defineCommand("quotaClaimExpired", { numberOfKeys: 1, lua: CLAIM_EXPIRED });
  redis.defineCommand("quotaOpenJournal", { numberOfKeys: 2, lua: OPEN_JOURNAL });

  const base = (tenantId: string, userId: string) => `${keyPrefix}quota:{${tenantId}:${userId}}:`;
  const dayKey = (key: UserDay) => `${base(key.tenantId, key.userId)}${key.day}`;
  const pendingKey = (tenantId: string, userId: string) => `${base(tenantId, userId)}pending`;
  const settledKey = (tenantId: string, userId: string) => `${base(tenantId, userId)}settled`;
  const expiringKey = `${keyPrefix}quota:expiring`;
  const journalsKey = `${keyPrefix}quota:journal`;
  const journalKey = (id: string) => `${keyPrefix}quota:journal:${id}`;
  const member = (tenantId: string, userId: string, reservationId: string) => `${tenantId}|${userId}|${reservationId}`;

  return {
    read: (key) =>
      guarded(async () => {
        const [exists, messages, tokens] = await scripts.quotaRead(dayKey(key));
        if (exists === -1) return null;
        return { messages, tokens } satisfies CounterValues;
      }),

    readUsage: (key) =>
      guarded(async () => {
        const fields = await redis.hgetall(dayKey(key));
        if (Object.keys(fields).length === 0) return null;
        const usage: DayUsage = { messages: 0, tokens: Number(fields.t ?? 0), byModel: {}, recentKeys: [] };
        for (const [field, value] of Object.entries(fields)) {
          if (field.length < 3 || field[1] !== ":") continue;
          const model = field.slice(2);
          const counts = (usage.byModel[model] ??= { messages: 0, tokens: 0 });
          if (field.startsWith("m:")) {
            counts.messages = Number(value);
            usage.messages += Number(value);
          } else counts.tokens = Number(value);
        }
        return usage;
      }),

    initialize: (key, usage: DayUsage, ttlSeconds) =>
      guarded(async () => {
        const models = Object.entries(usage.byModel).flatMap(([model, counts]) => [model, counts.messages, counts.tokens]);
        await scripts.quotaInitialize(
          dayKey(key),
          `${dayKey(key)}:events`,
          settledKey(key.tenantId, key.userId),
          ttlSeconds,
          usage.messages,
          usage.tokens,
          models.length / 3,
          ...models,
          ...usage.recentKeys,
          key.day,
        );
      }),

    reserve: (key, reservation, limits, _now, ttlSeconds) =>
      guarded(async (): Promise<ReserveOutcome> => {
        const [kind, messages, tokens] = await scripts.quotaReserve(
          dayKey(key),
          pendingKey(key.tenantId, key.userId),
          expiringKey,
          reservation.id,
          reservation.expiresAt.getTime(),
          key.day,
          limits.messages,
          limits.tokens,
          ttlSeconds,
          Math.max(0, Math.floor(reservation.estimatedTokens)),
          member(key.tenantId, key.userId, reservation.id),
        );
        if (kind === -1) return { kind: "missing" };
        const used = { messages, tokens };
        return { kind: kind === 1 ? "reserved" : kind === 2 ? "already_reserved" : "refused", used };
      }),

    release: (user, reservationId) =>
      guarded(
        async () =>
          (await scripts.quotaRelease(
            pendingKey(user.tenantId, user.userId),
            expiringKey,
            reservationId,
            member(user.tenantId, user.userId, reservationId),
            base(user.tenantId, user.userId),
          )) === 1,
      ),

    openJournal: () => guarded(() => scripts.quotaOpenJournal(`${journalsKey}:seq`, journalsKey, newUuid())),

    applyBatch: (journalId, changes: CounterChange[]) =>
      guarded(async () => {
        if (changes.length === 0) return [];
        const pipeline = redis.pipeline() as unknown as { quotaApplyBatch(...args: Args): void; exec(): Promise<Array<[Error | null, unknown]> | null> };
        for (let start = 0; start < changes.length; start += APPLY_CHUNK) {
          const args: Args = [expiringKey, journalKey(journalId), `${journalKey(journalId)}:keys`, keyPrefix];
          for (const { key, effect, reservationId, ttlSeconds, usageKey } of changes.slice(start, start + APPLY_CHUNK))
            args.push(key.tenantId, key.userId, key.day, effect.eventId, effect.model, effect.messages, effect.tokens, reservationId ?? "", ttlSeconds, usageKey);
          pipeline.quotaApplyBatch(...args);
        }
        const outcomes: Array<"applied" | "duplicate" | "missing"> = [];
        for (const [error, results] of (await pipeline.exec()) ?? []) {
          if (error) throw error;
          for (const result of results as number[]) outcomes.push(result === -1 ? "missing" : result === 0 ? "duplicate" : "applied");
        }
        return outcomes;
      }),

    pendingJournalIds: () => guarded(() => redis.zrange(journalsKey, "0", "-1")),

    readJournal: (journalId) =>
      guarded(async () => {
        const [fields, keys] = await Promise.all([redis.hgetall(journalKey(journalId)), redis.lrange(`${journalKey(journalId)}:keys`, 0, -1)]);
        return parseJournal(journalId, fields, keys);
      }),

    closeJournal: (journalId) =>
      guarded(async () => {
        await redis.multi().del(journalKey(journalId), `${journalKey(journalId)}:keys`).zrem(journalsKey, journalId).exec();
      }),

    claimExpired: (now, leaseMs, limit) =>
      guarded(async () => {
        const flat = await scripts.quotaClaimExpired(expiringKey, now.getTime(), now.getTime() + leaseMs, limit, keyPrefix);
        const claimed: ExpiredReservation[] = [];
        for (let index = 0; index < flat.length; index += 2) {
          const [tenantId = "", userId = "", ...rest] = flat[index]!.split("|");
          const [day = "", , estimate = "0"] = flat[index + 1]!.split("|");
          claimed.push({ tenantId, userId, reservationId: rest.join("|"), day, estimatedTokens: Number(estimate) || 0 });
        }
        return claimed;
      }),
  };
}
