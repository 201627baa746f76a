import { isAscii } from "node:buffer";
import { newUuid, unavailable, type Redis } from "@tessera/platform";
import type { CounterChange, CounterValues, ExpiredReservation, Journal, LiveCounters, ReserveOutcome, RollupDelta } from "../../domain/ports.ts";
import type { DayUsage, UserDay } from "../../domain/usage.ts";

// Key layout. A user's keys share the {tenant:user} hash tag:
//   <prefix>quota:{t:u}:<day>          hash: m (messages incl. pending reservations), t (settled
//                                      tokens), r (estimated tokens of pending reservations),
//                                      m:<model>, t:<model> (settled per model)
//   <prefix>quota:{t:u}:<day>:events   set of counted event ids of events without a reservation
//   <prefix>quota:{t:u}:pending        hash: reservationId -> "<day>|<dueAtMs>|<estimate>|<source>|<model>"
//                                      (due: its expiry, or the end of a sweep's claim on it)
//   <prefix>quota:{t:u}:settled        hash: reservationId -> day (settled or charged reservations)
// The expiry index, in EXPIRY_SHARDS sorted sets with a hash tag each (so a cluster spreads them):
//   <prefix>quota:expiring:{<n>}       "<t>|<u>|<reservationId>" by due time; n from the user
//   An entry is added before its reservation is made and removed once a sweep finds the
//   reservation gone (or the consumer saw it settled), so every pending reservation has one; the
//   pending entry decides, the index only says when to look. No script touches two slots of it.
// Shared by every user (one consumer counts and journals together, in one script):
//   <prefix>quota:journal              sorted set of journal ids (random) by sequence
//   <prefix>quota:journal:seq          the sequence
//   <prefix>quota:journal:<id>:entries list, per counted event, of
//                                      "<tenant>/<user>/<day>|<messages>|<tokens>|<key length>|<usage key><model>"
//   <prefix>quota:journal:<id>, <id>:keys   the same as a hash of sums and a list of usage keys
//                                      (journals of earlier versions; read, never written)
// Per-user keys carry a TTL; journals live until written to the rollups. The apply script names
// the user keys it derives and the journal: counting and journaling stay one atomic step, on one
// Redis (the reservation scripts and the sweep touch one user's slot, or one index shard, each).

const RESERVE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, 0} end
local counts = redis.call('HMGET', KEYS[1], 'm', 't', 'r')
local m = tonumber(counts[1] or '0')
local t = tonumber(counts[2] or '0') + tonumber(counts[3] or '0')
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {2, m, t} end
if m >= tonumber(ARGV[4]) or t >= tonumber(ARGV[5]) then return {0, m, t} end
local estimate = tonumber(ARGV[7])
redis.call('HINCRBY', KEYS[1], 'm', 1)
if estimate > 0 then redis.call('HINCRBY', KEYS[1], 'r', estimate) end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3] .. '|' .. ARGV[2] .. '|' .. ARGV[7] .. '|' .. ARGV[8] .. '|' .. ARGV[9])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[6]))
return {1, m + 1, t + estimate}
`;

const READ = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, 0} end
local counts = redis.call('HMGET', KEYS[1], 'm', 't', 'r')
return {1, tonumber(counts[1] or '0'), tonumber(counts[2] or '0') + tonumber(counts[3] or '0')}
`;

// A pending entry: day, due time, estimate, source, model (entries of earlier versions end after
// the due time or the estimate).
const PARSE_PENDING = `
local function parsePending(entry)
  return string.match(entry, '^([^|]*)|(%d+)|?([^|]*)|?([^|]*)|?(.*)$')
end
`;

// Takes a pending reservation off its day (message and estimate); returns its day, or nil when it
// was not pending.
const UNHOLD = `
${PARSE_PENDING}
local function unhold(pendingKey, reservationId, base, sameDayKey, sameDay)
  local entry = redis.call('HGET', pendingKey, reservationId)
  if not entry then return nil end
  redis.call('HDEL', pendingKey, reservationId)
  local day, _, estimate = parsePending(entry)
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

// KEYS: pending hash. ARGV: reservationId, base.
const RELEASE = `
${UNHOLD}
if unhold(KEYS[1], ARGV[1], ARGV[2], '', '') then return 1 end
return 0
`;

// Applies a chunk of events in order, each unless its usage key was counted before.
// KEYS: the journal's entries list. ARGV: key prefix, then per event the APPLY_FIELDS:
// "<tenant>|<user>|<day>|<messages>|<tokens>|<ttl>" (one argument: each costs the client as much
// as the event's other work), eventId, reservationId, model.
// Returns per event 1 (applied), 0 (duplicate) or -1 (the day's counters are missing). The
// journal gets one entry per applied event (summed when it is written, not here: one list push
// for the chunk instead of four hash increments per event). A day's counters keep the lifetime
// they were seeded with; the sets of usage keys get theirs once per chunk.
const APPLY_FIELDS = 4;
const APPLY_BATCH = `
${UNHOLD}
local prefix = ARGV[1]
local results = {}
local present = {}
local lifetimes = {}
local entries = {}
local e = 0
for i = 2, #ARGV, ${APPLY_FIELDS} do
  e = e + 1
  local tenant, user, day, messages, tokens, ttl = string.match(ARGV[i], '^([^|]*)|([^|]*)|([^|]*)|(%d+)|(%d+)|(%d+)$')
  local eventId, reservationId, model = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local base = prefix .. 'quota:{' .. tenant .. ':' .. user .. '}:'
  local dayKey = base .. day
  if present[dayKey] == nil then present[dayKey] = redis.call('EXISTS', dayKey) == 1 end
  if not present[dayKey] then
    results[e] = -1
  else
    -- Recording the usage key (usageKey in domain/usage.ts) is the duplicate check: one call,
    -- not a lookup and a write.
    local usageKey, first
    if reservationId ~= '' then
      local settledKey = base .. 'settled'
      usageKey = 'r:' .. reservationId
      first = redis.call('HSETNX', settledKey, reservationId, day) == 1
      if first then
        -- The held message (and estimate) is replaced by what the event counts.
        unhold(base .. 'pending', reservationId, base, dayKey, day)
        lifetimes[settledKey] = ttl
      end
    else
      local eventsKey = dayKey .. ':events'
      usageKey = 'e:' .. eventId
      first = redis.call('SADD', eventsKey, eventId) == 1
      if first then lifetimes[eventsKey] = ttl end
    end
    if not first then
      results[e] = 0
    else
      redis.call('HINCRBY', dayKey, 'm', messages)
      redis.call('HINCRBY', dayKey, 't', tokens)
      redis.call('HINCRBY', dayKey, 'm:' .. model, messages)
      redis.call('HINCRBY', dayKey, 't:' .. model, tokens)
      entries[#entries + 1] = tenant .. '/' .. user .. '/' .. day .. '|' .. messages .. '|' .. tokens .. '|' .. #usageKey .. '|' .. usageKey .. model
      results[e] = 1
    end
  end
end
for key, ttl in pairs(lifetimes) do redis.call('EXPIRE', key, ttl) end
if #entries > 0 then redis.call('RPUSH', KEYS[1], unpack(entries)) end
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

// One user's reservations named by the expiry index. KEYS: pending hash. ARGV: now, lease end,
// reservation ids. Per id: "" when it is not pending any more (drop its index entry), the due time
// when it is not due yet, or the entry, claimed (its due time moved to the lease end) when due.
const CLAIM_DUE = `
${PARSE_PENDING}
local now = tonumber(ARGV[1])
local results = {}
for i = 3, #ARGV do
  local entry = redis.call('HGET', KEYS[1], ARGV[i])
  if not entry then
    results[#results + 1] = ''
  else
    local day, due, estimate, source, model = parsePending(entry)
    if tonumber(due) > now then
      results[#results + 1] = due
    else
      local claimed = day .. '|' .. ARGV[2] .. '|' .. estimate .. '|' .. source .. '|' .. model
      redis.call('HSET', KEYS[1], ARGV[i], claimed)
      results[#results + 1] = claimed
    end
  end
end
return results
`;

// Ordered by the sequence, named by a fresh id (rollups remember the last journal id they took,
// so ids must never repeat, not even after Redis lost its data and the sequence restarted).
const OPEN_JOURNAL = `
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[1]), ARGV[1])
return ARGV[1]
`;

type Args = Array<string | number>;
type Pipeline = ReturnType<Redis["pipeline"]>;
type ScriptRedis = Redis & {
  quotaReserve(...args: Args): Promise<[number, number, number]>;
  quotaRelease(...args: Args): Promise<number>;
  quotaRead(...args: Args): Promise<[number, number, number]>;
  quotaInitialize(...args: Args): Promise<number>;
  quotaClaimDue(...args: Args): Promise<string[]>;
  quotaOpenJournal(...args: Args): Promise<string>;
};

/** The socket held corked until the current tick's microtasks are done (see inOneWrite). */
let corkedSocket: Redis["stream"] | undefined;

/**
 * Sends the commands `send` issues, and those of every other call reaching this point before the
 * current tick's microtasks are done, in one socket write: reservations that arrived together (one
 * read of gRPC frames) go to Redis in one system call, not one each. A second write per
 * reservation cost about a third of the call's CPU here, and a pipeline object as much again.
 * Redis runs the commands of one connection in order, so nothing changes but the number of writes.
 */
function inOneWrite<T>(redis: Redis, send: () => T): T {
  const socket = redis.status === "ready" ? redis.stream : undefined;
  if (socket && corkedSocket !== socket) {
    corkedSocket = socket;
    socket.cork();
    // nextTick runs once the microtask queue is drained, i.e. after every handler of this tick.
    process.nextTick(() => {
      if (corkedSocket === socket) corkedSocket = undefined;
      socket.uncork();
    });
  }
  return send();
}

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

/** Sorted sets the expiry index is spread over (each its own hash slot). */
export const EXPIRY_SHARDS = 16;

/** The index shard of a user (FNV-1a of "<tenant>|<user>"). */
export function expiryShardOf(tenantId: string, userId: string): number {
  let hash = 0x811c9dc5;
  const text = `${tenantId}|${userId}`;
  for (let index = 0; index < text.length; index += 1) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  return (hash >>> 0) % EXPIRY_SHARDS;
}

/** Journal entries (and the hash and key list of journals of earlier versions) back into per-user-day deltas. */
export function parseJournal(id: string, entries: Buffer[], fields: Record<string, string> = {}, keys: string[] = []): Journal {
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
  // "<rollup id>|<messages>|<tokens>|<key length>|<usage key><model>": the two free-form strings
  // last, the key's length in bytes (read as bytes, so any UTF-8 in them is safe).
  const BAR = 0x7c;
  const add = (rollupId: string, messages: number, tokens: number, usageKey: string, model: string) => {
    const delta = deltaOf(rollupId);
    delta.messages += messages;
    delta.tokens += tokens;
    const counts = (delta.byModel[model] ??= { messages: 0, tokens: 0 });
    counts.messages += messages;
    counts.tokens += tokens;
    delta.usageKeys.push(usageKey);
  };
  for (const entry of entries) {
    if (isAscii(entry)) {
      // Nearly every entry: one string, bytes and characters alike, cut in JavaScript.
      const text = entry.toString("latin1");
      const first = text.indexOf("|");
      const second = text.indexOf("|", first + 1);
      const third = text.indexOf("|", second + 1);
      const fourth = text.indexOf("|", third + 1);
      const keyEnd = fourth + 1 + Number(text.slice(third + 1, fourth));
      add(text.slice(0, first), Number(text.slice(first + 1, second)), Number(text.slice(second + 1, third)), text.slice(fourth + 1, keyEnd), text.slice(keyEnd));
      continue;
    }
    const first = entry.indexOf(BAR);
    const second = entry.indexOf(BAR, first + 1);
    const third = entry.indexOf(BAR, second + 1);
    const fourth = entry.indexOf(BAR, third + 1);
    const keyEnd = fourth + 1 + Number(entry.toString("latin1", third + 1, fourth));
    add(
      entry.toString("utf8", 0, first),
      Number(entry.toString("latin1", first + 1, second)),
      Number(entry.toString("latin1", second + 1, third)),
      entry.toString("utf8", fourth + 1, keyEnd),
      entry.toString("utf8", keyEnd),
    );
  }
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
    else if (name === "m") delta.messages += Number(value);
    else if (name === "t") delta.tokens += Number(value);
    else {
      const model = name.slice(2);
      const counts = (delta.byModel[model] ??= { messages: 0, tokens: 0 });
      if (name.startsWith("m:")) counts.messages += Number(value);
      else counts.tokens += Number(value);
    }
  }
  return { id, deltas: [...deltas.values()] };
}

/** A pending entry as the claim script returns it: "<day>|<due>|<estimate>|<source>|<model>". */
function parsePendingEntry(entry: string) {
  const parts = entry.split("|");
  return { day: parts[0] ?? "", estimatedTokens: Number(parts[2]) || 0, source: parts[3] ?? "", model: parts.slice(4).join("|") };
}

/** Live counters in Redis, each change one Lua script (counters, dedup record and journal together). */
export function createRedisLiveCounters(redis: Redis, keyPrefix: string): LiveCounters {
  const scripts = redis as ScriptRedis;
  redis.defineCommand("quotaReserve", { numberOfKeys: 2, lua: RESERVE });
  redis.defineCommand("quotaRelease", { numberOfKeys: 1, lua: RELEASE });
  redis.defineCommand("quotaRead", { numberOfKeys: 1, lua: READ });
  redis.defineCommand("quotaApplyBatch", { numberOfKeys: 1, lua: APPLY_BATCH });
  redis.defineCommand("quotaInitialize", { numberOfKeys: 3, lua: INITIALIZE });
  redis.defineCommand("quotaClaimDue", { numberOfKeys: 1, lua: CLAIM_DUE });
  redis.defineCommand("quotaOpenJournal", { numberOfKeys: 2, lua: OPEN_JOURNAL });

  const base = (tenantId: string, userId: string) => `${keyPrefix}quota:{${tenantId}:${userId}}:`;
  const dayKey = (key: UserDay) => `${base(key.tenantId, key.userId)}${key.day}`;
  const pendingKey = (tenantId: string, userId: string) => `${base(tenantId, userId)}pending`;
  const settledKey = (tenantId: string, userId: string) => `${base(tenantId, userId)}settled`;
  const expiryShardKey = (shard: number) => `${keyPrefix}quota:expiring:{${shard}}`;
  const expiryKeyOf = (tenantId: string, userId: string) => expiryShardKey(expiryShardOf(tenantId, userId));
  // Where earlier versions kept the whole index (moved into the shards by the sweep).
  const legacyExpiringKey = `${keyPrefix}quota:expiring`;
  const journalsKey = `${keyPrefix}quota:journal`;
  const journalKey = (id: string) => `${keyPrefix}quota:journal:${id}`;
  const member = (tenantId: string, userId: string, reservationId: string) => `${tenantId}|${userId}|${reservationId}`;

  /** Entries of the single index of earlier versions go to their shards (a few hundred a sweep). */
  const moveLegacyIndex = async () => {
    const flat = await redis.zrange(legacyExpiringKey, "0", "499", "WITHSCORES");
    if (flat.length === 0) return;
    const move = redis.pipeline();
    const moved: string[] = [];
    for (let index = 0; index < flat.length; index += 2) {
      const entry = flat[index]!;
      const [tenantId = "", userId = ""] = entry.split("|");
      move.zadd(expiryKeyOf(tenantId, userId), "NX", flat[index + 1]!, entry);
      moved.push(entry);
    }
    for (const [error] of (await move.exec()) ?? []) if (error) throw error;
    await redis.zrem(legacyExpiringKey, ...moved);
  };

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
        // The index entry is sent first, on the same connection (Redis runs them in order): a
        // reservation never exists without one. A refused one leaves an entry the sweep drops
        // when it is due.
        const [indexed, reserved] = inOneWrite(
          redis,
          () =>
            [
              redis.zadd(expiryKeyOf(key.tenantId, key.userId), "NX", reservation.expiresAt.getTime(), member(key.tenantId, key.userId, reservation.id)),
              scripts.quotaReserve(
                dayKey(key),
                pendingKey(key.tenantId, key.userId),
                reservation.id,
                reservation.expiresAt.getTime(),
                key.day,
                limits.messages,
                limits.tokens,
                ttlSeconds,
                Math.max(0, Math.floor(reservation.estimatedTokens)),
                reservation.source,
                reservation.model,
              ),
            ] as const,
        );
        const [, [kind, messages, tokens]] = await Promise.all([indexed, reserved]);
        if (kind === -1) return { kind: "missing" };
        const used = { messages, tokens };
        return { kind: kind === 1 ? "reserved" : kind === 2 ? "already_reserved" : "refused", used };
      }),

    release: (user, reservationId) =>
      guarded(async () => (await scripts.quotaRelease(pendingKey(user.tenantId, user.userId), reservationId, base(user.tenantId, user.userId))) === 1),

    openJournal: () => guarded(() => scripts.quotaOpenJournal(`${journalsKey}:seq`, journalsKey, newUuid())),

    applyBatch: (journalId, changes: CounterChange[]) =>
      guarded(async () => {
        if (changes.length === 0) return [];
        const pipeline = redis.pipeline() as unknown as Pipeline & { quotaApplyBatch(...args: Args): void };
        const entriesKey = `${journalKey(journalId)}:entries`;
        for (let start = 0; start < changes.length; start += APPLY_CHUNK) {
          const args: Args = [entriesKey, keyPrefix];
          const end = Math.min(changes.length, start + APPLY_CHUNK);
          for (let index = start; index < end; index += 1) {
            const { key, effect, reservationId, ttlSeconds } = changes[index]!;
            args.push(
              `${key.tenantId}|${key.userId}|${key.day}|${effect.messages}|${effect.tokens}|${ttlSeconds}`,
              effect.eventId,
              reservationId ?? "",
              effect.model,
            );
          }
          pipeline.quotaApplyBatch(...args);
        }
        const outcomes: Array<"applied" | "duplicate" | "missing"> = [];
        for (const [error, results] of (await pipeline.exec()) ?? []) {
          if (error) throw error;
          for (const result of results as number[]) outcomes.push(result === -1 ? "missing" : result === 0 ? "duplicate" : "applied");
        }
        // Settled reservations leave the expiry index (best effort: the sweep drops what is left).
        const settled = new Map<string, string[]>();
        outcomes.forEach((outcome, index) => {
          const { key, reservationId } = changes[index]!;
          if (outcome === "missing" || !reservationId) return;
          const shard = expiryKeyOf(key.tenantId, key.userId);
          let members = settled.get(shard);
          if (!members) settled.set(shard, (members = []));
          members.push(member(key.tenantId, key.userId, reservationId));
        });
        if (settled.size > 0) {
          const cleanup = redis.pipeline();
          for (const [shard, members] of settled) cleanup.zrem(shard, ...members);
          void cleanup.exec().catch(() => undefined);
        }
        return outcomes;
      }),

    pendingJournalIds: () => guarded(() => redis.zrange(journalsKey, "0", "-1")),

    readJournal: (journalId) =>
      guarded(async () => {
        const replies =
          (await redis
            .pipeline()
            .lrangeBuffer(`${journalKey(journalId)}:entries`, 0, -1)
            .hgetall(journalKey(journalId))
            .lrange(`${journalKey(journalId)}:keys`, 0, -1)
            .exec()) ?? [];
        for (const [error] of replies) if (error) throw error;
        return parseJournal(journalId, replies[0]![1] as Buffer[], replies[1]![1] as Record<string, string>, replies[2]![1] as string[]);
      }),

    closeJournal: (journalId) =>
      guarded(async () => {
        await redis
          .multi()
          .del(journalKey(journalId), `${journalKey(journalId)}:keys`, `${journalKey(journalId)}:entries`)
          .zrem(journalsKey, journalId)
          .exec();
      }),

    claimExpired: (now, leaseMs, limit) =>
      guarded(async () => {
        const nowMs = now.getTime();
        const leaseUntil = nowMs + leaseMs;
        await moveLegacyIndex();
        const claimed: ExpiredReservation[] = [];
        for (let shard = 0; shard < EXPIRY_SHARDS && claimed.length < limit; shard += 1) {
          const shardKey = expiryShardKey(shard);
          for (;;) {
            const members = await redis.zrangebyscore(shardKey, "-inf", nowMs, "LIMIT", 0, limit);
            if (members.length === 0) break;
            // One script per user (its pending hash is one slot), all in one round trip.
            const byUser = new Map<string, Array<{ member: string; reservationId: string }>>();
            for (const entry of members) {
              const second = entry.indexOf("|", entry.indexOf("|") + 1);
              const user = entry.slice(0, second);
              let list = byUser.get(user);
              if (!list) byUser.set(user, (list = []));
              list.push({ member: entry, reservationId: entry.slice(second + 1) });
            }
            const claims = redis.pipeline() as unknown as Pipeline & { quotaClaimDue(...args: Args): void };
            for (const [user, list] of byUser) {
              const [tenantId = "", userId = ""] = user.split("|");
              claims.quotaClaimDue(pendingKey(tenantId, userId), nowMs, leaseUntil, ...list.map((item) => item.reservationId));
            }
            const replies = (await claims.exec()) ?? [];
            const index = redis.pipeline();
            let userIndex = 0;
            for (const [user, list] of byUser) {
              const [error, results] = replies[userIndex++]!;
              if (error) throw error;
              const [tenantId = "", userId = ""] = user.split("|");
              (results as string[]).forEach((result, position) => {
                const { member: entry, reservationId } = list[position]!;
                if (result === "") index.zrem(shardKey, entry);
                else if (!result.includes("|")) index.zadd(shardKey, "XX", result, entry);
                else {
                  index.zadd(shardKey, "XX", leaseUntil, entry);
                  claimed.push({ tenantId, userId, reservationId, ...parsePendingEntry(result) });
                }
              });
            }
            for (const [error] of (await index.exec()) ?? []) if (error) throw error;
            if (members.length < limit) break;
          }
        }
        return claimed;
      }),
  };
}
