import { API_KEY_PREFIX, API_KEY_SCOPES, apiKeyHash, DEFAULT_KEY_SCOPES, conflict, forbidden, knownKeyScopes, newId, notFound, randomSecret, tooManyRequests, unauthenticated, validationFailed, type Caller, type Clock } from "@tessera/platform";
import { passwordProblem } from "../domain/password-policy.ts";
import type { ApiKeyRecord, ApiKeyRepository, AttemptThrottle, ChangeNotifier, CommonPasswords, PasswordHasher, TenantRepository, UserRepository } from "../domain/ports.ts";
import { normalizeUsername, throwIfProblems, usernameProblem, type User } from "../domain/user.ts";
import { DuplicateUserError } from "./register-user.ts";

/** lastUsedAt is written at most this often per key, so a busy key does not write on every call. */
const TOUCH_INTERVAL_MS = 60_000;

/** What a signed-in user does to their own account: profile, password, API keys. */
export function createAccountUseCases(deps: { users: UserRepository; tenants: TenantRepository; apiKeys: ApiKeyRepository; hasher: PasswordHasher; commonPasswords: CommonPasswords; throttle: AttemptThrottle; changes: ChangeNotifier; clock: Clock }) {
  const me = async (claims: Caller): Promise<User> => {
    const user = await deps.users.findById(claims.tenantId, claims.userId);
    if (!user) throw unauthenticated();
    return user;
  };

  return {
    me,

    async updateMe(claims: Caller, changes: { fullName?: string | undefined; avatarUrl?: string | undefined; username?: string | undefined }): Promise<User> {
      const update: Partial<User> = {};
      const problems = [];
      if (changes.fullName !== undefined) {
        if (changes.fullName.length > 200) problems.push({ field: "fullName", message: "Use at most 200 characters." });
        update.fullName = changes.fullName.trim();
      }
      if (changes.avatarUrl !== undefined) {
        const url = changes.avatarUrl.trim();
        if (url !== "" && !/^https:\/\/[^\s]{1,2000}$/.test(url)) problems.push({ field: "avatarUrl", message: "Use an https:// URL." });
        update.avatarUrl = url;
      }
      if (changes.username !== undefined) {
        update.username = normalizeUsername(changes.username);
        problems.push(usernameProblem(update.username));
      }
      throwIfProblems(problems);
      try {
        const user = await deps.users.update(claims.tenantId, claims.userId, update);
        if (!user) throw unauthenticated();
        // Usage views show usernames from the other services' caches.
        await deps.changes.userChanged(user.tenantId, user.id);
        return user;
      } catch (error) {
        if (error instanceof DuplicateUserError) throw conflict("username_taken", "That username is already registered.", [{ field: "username", message: "That username is already registered." }]);
        throw error;
      }
    },

    async changePassword(claims: Caller, input: { currentPassword?: string | undefined; newPassword: string }): Promise<void> {
      const user = await me(claims);
      const tenant = await deps.tenants.findById(user.tenantId);
      if (user.passwordHash) {
        if (!input.currentPassword) throw validationFailed([{ field: "currentPassword", message: "Enter your current password." }]);
        // A stolen session must not become a password oracle: attempts are counted before checking.
        const key = `password-change:${user.tenantId}:${user.id}`;
        const wait = await deps.throttle.attempt([key]);
        if (wait > 0) throw tooManyRequests("Too many attempts at the current password; try again later.", wait, "password_change_throttled");
        if (!(await deps.hasher.verify(user.passwordHash, input.currentPassword))) {
          throw validationFailed([{ field: "currentPassword", message: "The current password is not correct." }]);
        }
      }
      throwIfProblems([passwordProblem(input.newPassword, tenant?.minPasswordLength ?? 8, (password) => deps.commonPasswords.has(password), "newPassword")]);
      if (user.passwordHash) await deps.throttle.reset([`password-change:${user.tenantId}:${user.id}`]);
      await deps.users.update(user.tenantId, user.id, { passwordHash: await deps.hasher.hash(input.newPassword) });
    },

    async createApiKey(claims: Caller, name: string, requestedScopes: readonly string[] = []): Promise<{ record: ApiKeyRecord; secret: string }> {
      // Managing keys is for the signed-in owner, never for another key.
      if (claims.kind !== "session") throw forbidden("API keys cannot manage API keys.", "insufficient_scope");
      const trimmed = name.trim();
      if (trimmed.length < 1 || trimmed.length > 100) throw validationFailed([{ field: "name", message: "Use 1 to 100 characters." }]);
      const scopes = requestedScopes.length === 0 ? [...DEFAULT_KEY_SCOPES] : knownKeyScopes(requestedScopes);
      if (scopes.length !== new Set(requestedScopes).size && requestedScopes.length > 0) {
        throw validationFailed([{ field: "scopes", message: `Use any of ${API_KEY_SCOPES.join(", ")}.` }]);
      }
      const user = await me(claims);
      const existing = await deps.apiKeys.listLive(user.tenantId, user.id);
      if (existing.length >= 50) throw conflict("too_many_api_keys", "At most 50 API keys; revoke one first.");
      const prefix = randomSecret(6).replace(/[-_]/g, "x").slice(0, 8);
      const secret = `${API_KEY_PREFIX}${prefix}_${randomSecret(32)}`;
      const record: ApiKeyRecord = { id: newId(), tenantId: user.tenantId, userId: user.id, name: trimmed, prefix: `${API_KEY_PREFIX}${prefix}`, hash: apiKeyHash(secret), scopes, createdAt: deps.clock.now(), lastUsedAt: null, revokedAt: null };
      await deps.apiKeys.create(record);
      return { record, secret };
    },

    listApiKeys: (claims: Caller) => deps.apiKeys.listLive(claims.tenantId, claims.userId),

    async revokeApiKey(claims: Caller, id: string): Promise<void> {
      const hash = await deps.apiKeys.revoke(claims.tenantId, claims.userId, id, deps.clock.now());
      if (hash === null) throw notFound("API key");
      await deps.changes.apiKeyRevoked(hash);
    },

    /** The user behind a personal API key; tenantId "" accepts any tenant (the caller checks it). */
    async verifyApiKey(tenantId: string, key: string): Promise<{ record: ApiKeyRecord; user: User }> {
      const invalid = () => unauthenticated("The API key is not valid.", "invalid_api_key");
      if (!key.startsWith(API_KEY_PREFIX) || key.length > 200) throw invalid();
      const record = await deps.apiKeys.findLiveByHash(apiKeyHash(key));
      if (!record || (tenantId !== "" && record.tenantId !== tenantId)) throw invalid();
      const user = await deps.users.findById(record.tenantId, record.userId);
      if (!user || user.status === "disabled") throw invalid();
      const now = deps.clock.now();
      if (!record.lastUsedAt || now.getTime() - record.lastUsedAt.getTime() > TOUCH_INTERVAL_MS) await deps.apiKeys.touch(record.id, now);
      return { record, user };
    },
  };
}

export type AccountUseCases = ReturnType<typeof createAccountUseCases>;
