import { hash } from "node:crypto";
import { AppError, unavailable, withRedisLock, type Redis } from "@tessera/platform";
import { tooManyAccounts, type AccountTokens, type BrowserSession, type BrowserSessionStore, type SignedInAccount } from "../application/browser-session.ts";

// One hash per browser session: field `active` (the active user id) and `account:<userId>` (the
// account as JSON). Every write is a script that changes only the fields it owns, on the state of
// the moment, so two requests of one browser never write back each other's stale copy.
//
// Signing in moves the state to a new cookie value (against session fixation). The writes of
// requests that loaded the state with the old value before (a refresh on its way) follow
// `<old key>:moved` to the new key for a minute, so they land on the live state instead of being
// lost; loading never follows it: the old cookie value opens nothing any more.
const RESOLVE = `
local function resolve(key)
  if redis.call('EXISTS', key) == 1 then return key, 0 end
  local moved = redis.call('GET', key .. ':moved')
  if moved then return moved, 1 end
  return key, 0
end
`;
const MOVED_FOR_MS = 60_000;

// Earlier versions kept the whole state as one JSON string; it becomes the hash on first load.
// KEYS: state.
const LOAD = `
local key = KEYS[1]
if redis.call('TYPE', key)['ok'] == 'string' then
  local legacy = cjson.decode(redis.call('GET', key))
  local ttl = redis.call('PTTL', key)
  redis.call('DEL', key)
  for index, account in ipairs(legacy.accounts or {}) do
    account.signedInAt = index
    redis.call('HSET', key, 'account:' .. account.userId, cjson.encode(account))
  end
  if type(legacy.activeUserId) == 'string' then redis.call('HSET', key, 'active', legacy.activeUserId) end
  if ttl > 0 and redis.call('EXISTS', key) == 1 then redis.call('PEXPIRE', key, ttl) end
end
return redis.call('HGETALL', key)
`;

// KEYS: state, the key to move from (the same key when not moving). ARGV: the request as JSON
// ({put: [json...], remove, profiles, active?, tenantId, create}), now ms, minimum lifetime ms,
// how long a moved state is followed (ms). Returns false when nothing is stored (and the request
// may not create it), else {moved (0/1), fields...}.
const APPLY = `${RESOLVE}
local key, moved = KEYS[1], 0
local request = cjson.decode(ARGV[1])
local source = KEYS[1]
if KEYS[2] ~= KEYS[1] then
  -- A second sign-in from the same old cookie value joins the state the first one moved, under its new value.
  source, moved = resolve(KEYS[2])
  if moved == 1 then key = source end
else
  key, moved = resolve(KEYS[1])
  source = key
end
if redis.call('EXISTS', source) == 0 and not request.create then return false end
local function stored(userId)
  local raw = redis.call('HGET', source, 'account:' .. userId)
  if raw then return cjson.decode(raw) end
  return nil
end
-- Checked before anything is written (a script's writes are not undone by an error): sign-ins at
-- once in two requests may not together pass the limit.
local removing = {}
for _, gone in ipairs(request.remove) do
  local account = stored(gone.userId)
  if account and account.sessionId == gone.sessionId then removing[gone.userId] = true end
end
local after = redis.call('HLEN', source) - redis.call('HEXISTS', source, 'active')
for _ in pairs(removing) do after = after - 1 end
local newcomers = 0
for _, raw in ipairs(request.put) do
  local userId = cjson.decode(raw).userId
  if removing[userId] or redis.call('HEXISTS', source, 'account:' .. userId) == 0 then newcomers = newcomers + 1 end
end
if newcomers > 0 and after + newcomers > tonumber(request.maxAccounts) then return redis.error_reply('TOO_MANY_ACCOUNTS') end
if source ~= key then
  if redis.call('EXISTS', source) == 1 then
    redis.call('RENAME', source, key)
    redis.call('SET', KEYS[2] .. ':moved', key, 'PX', tonumber(ARGV[4]))
    if source ~= KEYS[2] then redis.call('SET', source .. ':moved', key, 'PX', tonumber(ARGV[4])) end
  end
  source = key
end
for userId in pairs(removing) do redis.call('HDEL', key, 'account:' .. userId) end
for _, raw in ipairs(request.put) do
  redis.call('HSET', key, 'account:' .. cjson.decode(raw).userId, raw)
end
for _, profile in ipairs(request.profiles) do
  local account = stored(profile.userId)
  if account and account.sessionId == profile.sessionId then
    account.email = profile.email
    account.username = profile.username
    account.displayName = profile.displayName
    account.avatarUrl = profile.avatarUrl
    redis.call('HSET', key, 'account:' .. profile.userId, cjson.encode(account))
  end
end
if request.active == cjson.null then
  redis.call('HDEL', key, 'active')
elseif type(request.active) == 'string' and redis.call('HEXISTS', key, 'account:' .. request.active) == 1 then
  redis.call('HSET', key, 'active', request.active)
end
local active = redis.call('HGET', key, 'active')
local accounts = 0
local first = nil
local latestExpiry = 0
local fields = redis.call('HGETALL', key)
for index = 1, #fields, 2 do
  if string.sub(fields[index], 1, 8) == 'account:' then
    local account = cjson.decode(fields[index + 1])
    accounts = accounts + 1
    if account.refreshExpiresAt > latestExpiry then latestExpiry = account.refreshExpiresAt end
    if account.tenantId == request.tenantId and (first == nil or account.signedInAt < first.signedInAt) then first = account end
  end
end
if accounts == 0 then
  redis.call('DEL', key)
  return {moved}
end
if active and redis.call('HEXISTS', key, 'account:' .. active) == 0 then active = false end
if not active then
  if first then redis.call('HSET', key, 'active', first.userId) else redis.call('HDEL', key, 'active') end
end
local now = tonumber(ARGV[2])
redis.call('PEXPIREAT', key, math.max(latestExpiry, now + tonumber(ARGV[3])))
fields = redis.call('HGETALL', key)
table.insert(fields, 1, moved)
return fields
`;

// Compare and set of an account's tokens. KEYS: state. ARGV: user id, the refresh token being
// replaced, access token, its expiry ms, refresh token, its expiry ms, now ms, minimum lifetime ms.
const SAVE_TOKENS = `${RESOLVE}
local key = resolve(KEYS[1])
local raw = redis.call('HGET', key, 'account:' .. ARGV[1])
if not raw then return false end
local account = cjson.decode(raw)
if account.refreshToken ~= ARGV[2] then return raw end
account.accessToken = ARGV[3]
account.accessExpiresAt = tonumber(ARGV[4])
account.refreshToken = ARGV[5]
account.refreshExpiresAt = tonumber(ARGV[6])
raw = cjson.encode(account)
redis.call('HSET', key, 'account:' .. ARGV[1], raw)
local lives = tonumber(ARGV[7]) + redis.call('PTTL', key)
if account.refreshExpiresAt > lives then redis.call('PEXPIREAT', key, account.refreshExpiresAt) end
return raw
`;

// KEYS: state. ARGV: user id. The stored account, following a move.
const READ_ACCOUNT = `${RESOLVE}
return redis.call('HGET', (resolve(KEYS[1])), 'account:' .. ARGV[1])
`;

type ScriptRedis = Redis & {
  browserSessionLoad(key: string): Promise<string[]>;
  browserSessionApply(key: string, from: string, request: string, now: number, minimumMs: number, movedForMs: number): Promise<[number, ...string[]] | null>;
  browserSessionSaveTokens(key: string, ...args: Array<string | number>): Promise<string | null>;
  browserSessionReadAccount(key: string, userId: string): Promise<string | null>;
};

/** Longer than a refresh takes; a crashed holder frees the account after this. */
const REFRESH_LEASE_MS = 10_000;
const MINIMUM_LIFETIME_MS = 24 * 3600 * 1000;

function parse(fields: string[], storeKey: string): BrowserSession {
  let activeUserId: string | null = null;
  const accounts: SignedInAccount[] = [];
  for (let index = 0; index < fields.length; index += 2) {
    const [name, value] = [fields[index]!, fields[index + 1]!];
    if (name === "active") activeUserId = value;
    else if (name.startsWith("account:")) accounts.push(JSON.parse(value) as SignedInAccount);
  }
  accounts.sort((a, b) => a.signedInAt - b.signedInAt);
  return { activeUserId, accounts, storeKey };
}

/**
 * Browser sessions in Redis under a hash of the cookie, so a Redis dump holds no usable cookie.
 * `maxAccounts`: accounts one browser keeps signed in, enforced here too, atomically, for sign-ins
 * that run at once.
 */
export function createRedisBrowserSessionStore(redis: Redis, prefix: string, options: { maxAccounts: number }): BrowserSessionStore {
  const scripts = redis as ScriptRedis;
  redis.defineCommand("browserSessionLoad", { numberOfKeys: 1, lua: LOAD });
  redis.defineCommand("browserSessionApply", { numberOfKeys: 2, lua: APPLY });
  redis.defineCommand("browserSessionSaveTokens", { numberOfKeys: 1, lua: SAVE_TOKENS });
  redis.defineCommand("browserSessionReadAccount", { numberOfKeys: 1, lua: READ_ACCOUNT });
  const keyOf = (cookieValue: string) => `${prefix}bff:browser:${hash("sha256", cookieValue, "base64url")}`;
  // Redis down means "try again shortly" (503), never "signed out" and never a 500.
  const reachable = async <T>(operation: () => Promise<T>): Promise<T> => {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw unavailable("The session store", error);
    }
  };
  return {
    load: (key) =>
      reachable(async () => {
        const fields = await scripts.browserSessionLoad(keyOf(key));
        return fields.length > 0 ? parse(fields, key) : null;
      }),

    apply: (key, changes, applyOptions) =>
      reachable(async () => {
        const request = {
          put: changes.put.map((account) => JSON.stringify(account)),
          remove: changes.remove,
          profiles: changes.profiles,
          ...(changes.activeUserId !== undefined ? { active: changes.activeUserId } : {}),
          tenantId: applyOptions.tenantId,
          create: applyOptions.create,
          maxAccounts: options.maxAccounts,
        };
        // cjson turns an empty array into an object; the script only iterates them, which is the same.
        const result = await scripts
          .browserSessionApply(keyOf(key), keyOf(applyOptions.from ?? key), JSON.stringify(request), Date.now(), MINIMUM_LIFETIME_MS, MOVED_FOR_MS)
          .catch((error: unknown) => {
            throw error instanceof Error && error.message.includes("TOO_MANY_ACCOUNTS") ? tooManyAccounts(options.maxAccounts) : error;
          });
        if (result === null) return null;
        const [moved, ...fields] = result;
        return { ...parse(fields, key), moved: moved === 1 };
      }),

    exclusive: (key, userId, task) =>
      withRedisLock(redis, `${keyOf(key)}:refreshing:${userId}`, { leaseMs: REFRESH_LEASE_MS, waitMs: REFRESH_LEASE_MS, what: "Your session" }, async () => {
        const raw = await reachable(() => scripts.browserSessionReadAccount(keyOf(key), userId));
        return task(raw ? (JSON.parse(raw) as SignedInAccount) : null);
      }),

    saveTokens: (key, userId, replacing, tokens: AccountTokens) =>
      reachable(async () => {
        const raw = await scripts.browserSessionSaveTokens(
          keyOf(key),
          userId,
          replacing,
          tokens.accessToken,
          tokens.accessExpiresAt,
          tokens.refreshToken,
          tokens.refreshExpiresAt,
          Date.now(),
          MINIMUM_LIFETIME_MS,
        );
        return raw ? (JSON.parse(raw) as SignedInAccount) : null;
      }),
  };
}
