import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALL_SCOPES, AppError, connectMongo, connectRedis, createLogger, systemClock, type Caller } from "@tessera/platform";
import { outcomeOf, testInfrastructure } from "@tessera/platform/testing";
import { createArgon2PasswordHasher } from "../src/adapters/crypto/argon2-password-hasher.ts";
import { loadCommonPasswords } from "../src/adapters/crypto/common-passwords.ts";
import { createMongoIdentityRepositories } from "../src/adapters/mongo/mongo-identity-repositories.ts";
import { createRedisAttemptThrottle } from "../src/adapters/redis/redis-attempt-throttle.ts";
import { createRedisTenantLock } from "../src/adapters/redis/redis-tenant-lock.ts";
import { createIdentityUseCases } from "../src/application/identity-use-cases.ts";
import { createMongoLinkedIdentityRepository } from "../src/adapters/mongo/mongo-linked-identity-repository.ts";
import { createRedisOAuthFlowStore } from "../src/adapters/redis/redis-oauth-flow-store.ts";
import { createOpenIdClientGateway } from "../src/adapters/oauth/openid-client-gateway.ts";
import { createEnvironmentSignInPolicy } from "../src/adapters/oauth/environment-sign-in-policy.ts";
import type { PasswordHasher } from "../src/domain/ports.ts";

const infrastructure = testInfrastructure("identity");
const logger = createLogger("test", "silent");
// Cheap hashing parameters keep the test fast; the rehash test switches to OWASP's.
const cheap = { memoryCost: 1024, timeCost: 1, parallelism: 1 };
let useCases: ReturnType<typeof createIdentityUseCases>;
let repositories: ReturnType<typeof createMongoIdentityRepositories>;
let closeAll: () => Promise<void>;
const revoked: string[] = [];
const published: string[] = [];

const build = (hasher: PasswordHasher = createArgon2PasswordHasher(cheap)) =>
  createIdentityUseCases({
    users: repositories.users,
    tenants: repositories.tenants,
    apiKeys: repositories.apiKeys,
    sessions: { revokeUserSessions: async (_tenantId, userId) => void revoked.push(userId) },
    changes: {
      userChanged: async (tenantId, userId) => void published.push(`users:${tenantId}/${userId}`),
      apiKeyRevoked: async (hash) => void published.push(`apiKeys:${hash}`),
      tenantsChanged: async () => void published.push("tenants"),
    },
    hasher,
    commonPasswords: loadCommonPasswords(),
    throttle: createRedisAttemptThrottle(redisClient, infrastructure.redisKeyPrefix, {
      perAccount: 3,
      perIp: 100,
      registrationsPerIp: 5,
      registrationsPerTenant: 1000,
      windowSeconds: 60,
      baseLockSeconds: 1,
      maxLockSeconds: 8,
    }),
    tenantLock: createRedisTenantLock(redisClient, infrastructure.redisKeyPrefix),
    clock: systemClock,
    dummyHash: "$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$0u5vZ2S6Hq8YfOq6o2p0B4gYw0r0b8gk1ZpQ7dq0c2Q",
    // Sign-in with providers is covered end to end in tests/e2e/oauth.test.ts.
    identities,
    oauthFlows: createRedisOAuthFlowStore(redisClient, infrastructure.redisKeyPrefix),
    oauthGateway: createOpenIdClientGateway([], logger),
    signInPolicies: createEnvironmentSignInPolicy({ defaultTenantId: "default", providerIds: [], autoLinkVerifiedEmail: true }),
  });
let redisClient: ReturnType<typeof connectRedis>["redis"];
let identities: ReturnType<typeof createMongoLinkedIdentityRepository>;

beforeAll(async () => {
  const mongo = await connectMongo(infrastructure.mongoUrl, logger);
  const redis = connectRedis(infrastructure.redisUrl, logger);
  redisClient = redis.redis;
  repositories = createMongoIdentityRepositories(mongo.connection);
  await repositories.ready();
  identities = createMongoLinkedIdentityRepository(mongo.connection);
  useCases = build();
  await useCases.seed({ email: "Admin@Example.com", username: "admin", password: "an admin passphrase" });
  closeAll = async () => {
    await mongo.connection.dropDatabase();
    await mongo.close();
    await redis.close();
  };
});
afterAll(async () => closeAll?.());

const codeOf = outcomeOf;
const claimsOf = (user: { id: string; tenantId: string; role: "user" | "admin" }): Caller => ({
  userId: user.id,
  tenantId: user.tenantId,
  role: user.role,
  platformRole: null,
  scopes: ALL_SCOPES,
  kind: "session",
  sessionId: "s",
  apiKeyId: null,
});
const register = (name: string, tenantId = "default", password = "a long enough passphrase") =>
  useCases.registerUser({ tenantId, email: `${name}@Example.COM`, username: name, password, fullName: "" });

describe("identity", () => {
  it("seeds the first admin once, however often it runs", async () => {
    await useCases.seed({ email: "admin@example.com", username: "admin", password: "an admin passphrase" });
    const admin = await repositories.users.findByLogin("default", "admin@example.com");
    expect(admin?.role).toBe("admin");
    expect((await repositories.users.list("default", { limit: 100, query: "admin" })).length).toBe(1);
  });

  it("normalises emails and usernames and refuses common or short passwords", async () => {
    const user = await register("Grace.Hopper");
    expect(user.email).toBe("grace.hopper@example.com");
    expect(user.username).toBe("grace.hopper");
    expect(await codeOf(register("weak1", "default", "password123"))).toBe("validation_failed");
    expect(await codeOf(register("weak2", "default", "Qwertyuiop"))).toBe("validation_failed");
    expect(await codeOf(register("weak3", "default", "seven77"))).toBe("validation_failed");
    expect(await codeOf(register("unicode4", "default", "é".repeat(64) + " a long unicode passphrase"))).toBe("ok");
  });

  it("keeps tenants apart: the same email in two tenants, and ids invisible across them", async () => {
    await repositories.tenants.create({ id: "acme", slug: "acme", name: "Acme", domains: ["acme.test"], timeZone: "Europe/Berlin", minPasswordLength: 12, selfRegistration: true });
    const inDefault = await register("shared");
    const inAcme = await register("shared", "acme", "a twelve+ char phrase");
    expect(inAcme.id).not.toBe(inDefault.id);
    expect(await repositories.users.findById("acme", inDefault.id)).toBeNull();
    expect(await codeOf(useCases.admin.getUser({ ...claimsOf(inAcme), role: "admin" }, inDefault.id))).toBe("not_found");
    // The tenant's own minimum length applies.
    expect(await codeOf(register("shorty", "acme", "elevenchars"))).toBe("validation_failed");
    expect((await useCases.resolveTenant("ACME.test:8080")).id).toBe("acme");
    expect((await useCases.resolveTenant("unknown.example")).id).toBe("default");
  });

  it("throttles sign-in per account after repeated failures, then recovers", async () => {
    await register("throttled");
    const attempt = (password: string) => useCases.verifyPassword({ tenantId: "default", login: "throttled", password, clientIp: "203.0.113.7" });
    for (let index = 0; index < 3; index += 1) expect(await codeOf(attempt("wrong password here"))).toBe("invalid_credentials");
    let error: unknown;
    try {
      await attempt("a long enough passphrase");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).status).toBe(429);
    expect((error as AppError).retryAfterSeconds).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await codeOf(attempt("a long enough passphrase"))).toBe("ok");
  });

  it("answers unknown users exactly like wrong passwords", async () => {
    expect(await codeOf(useCases.verifyPassword({ tenantId: "default", login: "no-such-user", password: "whatever it is", clientIp: "1" }))).toBe("invalid_credentials");
    expect(await codeOf(useCases.verifyPassword({ tenantId: "default", login: "nobody@example.com", password: "whatever it is", clientIp: "1" }))).toBe("invalid_credentials");
  });

  it("rehashes a password with the current parameters at sign-in", async () => {
    const user = await register("rehash");
    expect(user.passwordHash).toMatch(/m=1024,t=1/);
    const owasp = build(createArgon2PasswordHasher());
    await owasp.verifyPassword({ tenantId: "default", login: "rehash", password: "a long enough passphrase", clientIp: "1" });
    expect((await repositories.users.findById("default", user.id))?.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await codeOf(owasp.verifyPassword({ tenantId: "default", login: "rehash", password: "a long enough passphrase", clientIp: "1" }))).toBe("ok");
  });

  it("creates API keys shown once, stored hashed, verified, and revoked", async () => {
    const user = await register("developer");
    const { record, secret } = await useCases.account.createApiKey(claimsOf(user), "laptop");
    expect(secret.startsWith(record.prefix)).toBe(true);
    expect(record.hash).not.toContain(secret);
    expect((await useCases.account.verifyApiKey("default", secret)).user.id).toBe(user.id);
    expect(await codeOf(useCases.account.verifyApiKey("acme", secret))).toBe("invalid_api_key");
    const [listed] = await useCases.account.listApiKeys(claimsOf(user));
    expect(listed?.lastUsedAt).toBeInstanceOf(Date);
    const stranger = await register("stranger");
    expect(await codeOf(useCases.account.revokeApiKey(claimsOf(stranger), record.id))).toBe("not_found");
    await useCases.account.revokeApiKey(claimsOf(user), record.id);
    // The edge caches keys by their hash: the revocation is broadcast under it.
    expect(published).toContain(`apiKeys:${record.hash}`);
    expect(await codeOf(useCases.account.verifyApiKey("default", secret))).toBe("invalid_api_key");
  });

  it("lets admins change role, status and limits of their own tenant only, and signs out disabled users", async () => {
    const admin = (await repositories.users.findByLogin("default", "admin"))!;
    const target = await register("target");
    const { after } = await useCases.admin.updateUser(claimsOf(admin), target.id, { maxMessagesPerDay: 5, maxTokensPerDay: null, status: "disabled", trustLevel: 2 });
    expect(after).toMatchObject({ maxMessagesPerDay: 5, maxTokensPerDay: null, status: "disabled", trustLevel: 2 });
    expect(revoked).toContain(target.id);
    expect(published).toContain(`users:default/${target.id}`);
    expect(await codeOf(useCases.admin.updateUser(claimsOf(target), admin.id, { role: "user" }))).toBe("forbidden");
    expect(await codeOf(useCases.admin.updateUser(claimsOf(admin), admin.id, { role: "user" }))).toBe("validation_failed");
    expect(await codeOf(useCases.verifyPassword({ tenantId: "default", login: "target", password: "a long enough passphrase", clientIp: "2" }))).toBe("account_disabled");
  });

  it("lets at most the limit's worth of a burst of 50 parallel sign-ins reach the password check, whichever login form", async () => {
    await register("burst");
    const checked: string[] = [];
    const counting: PasswordHasher = { ...createArgon2PasswordHasher(cheap) };
    const real = createArgon2PasswordHasher(cheap);
    counting.verify = async (hash, password) => {
      checked.push(password);
      return real.verify(hash, password);
    };
    const burst = build(counting);
    // Wrong passwords by email and by username, the right one somewhere in the middle.
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        codeOf(burst.verifyPassword({ tenantId: "default", login: index % 2 ? "burst" : "BURST@example.com", password: index === 25 ? "a long enough passphrase" : `wrong ${index}`, clientIp: `198.51.100.${index}` })),
      ),
    );
    expect(checked.length).toBeLessThanOrEqual(3);
    expect(outcomes.filter((outcome) => outcome !== "login_throttled").length).toBeLessThanOrEqual(3);
    expect(outcomes.filter((outcome) => outcome === "login_throttled").length).toBeGreaterThanOrEqual(47);
  });

  it("backs off exponentially and lets the owner's known device in while strangers are locked out", async () => {
    await register("owner");
    const attempt = (password: string, deviceId?: string, clientIp = "203.0.113.50") => useCases.verifyPassword({ tenantId: "default", login: "owner", password, clientIp, deviceId });
    const ownerDevice = "owner-device-0123456789abcdefghijklmnop";
    expect(await codeOf(attempt("a long enough passphrase", ownerDevice))).toBe("ok");
    // A stranger exhausts the account's budget and trips the lock: 1 s, then 2 s.
    for (let index = 0; index < 3; index += 1) expect(await codeOf(attempt("guess " + index))).toBe("invalid_credentials");
    const first = await attempt("guess 4").catch((error: AppError) => error);
    expect((first as AppError).retryAfterSeconds).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    for (let index = 0; index < 3; index += 1) expect(await codeOf(attempt("guess again " + index, undefined, "192.0.2.9"))).toBe("invalid_credentials");
    const second = await attempt("guess 8", undefined, "192.0.2.9").catch((error: AppError) => error);
    expect((second as AppError).retryAfterSeconds).toBe(2);
    // Locked for every unknown client, even with the right password...
    expect(await codeOf(attempt("a long enough passphrase"))).toBe("login_throttled");
    expect(await codeOf(attempt("a long enough passphrase", "a-device-never-seen-before-0123456789"))).toBe("login_throttled");
    // ...but the browser that signed in before still gets its own attempts.
    expect(await codeOf(attempt("a long enough passphrase", ownerDevice))).toBe("ok");
  });

  it("throttles guesses at the current password when changing it", async () => {
    const user = await register("changer");
    const change = (currentPassword: string) => useCases.account.changePassword(claimsOf(user), { currentPassword, newPassword: "a brand new passphrase" });
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, index) => codeOf(change(`wrong ${index}`))));
    expect(outcomes.filter((outcome) => outcome === "validation_failed").length).toBeLessThanOrEqual(3);
    expect(await codeOf(change("a long enough passphrase"))).toBe("password_change_throttled");
  });

  it("throttles 30 parallel registrations from one IP, and hashes only once email and username are free", async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, (_, index) =>
        codeOf(useCases.registerUser({ tenantId: "default", email: `flood${index}@example.com`, username: `flood${index}`, password: "a long enough passphrase", fullName: "", clientIp: "203.0.113.99" })),
      ),
    );
    expect(outcomes.filter((outcome) => outcome === "ok").length).toBeLessThanOrEqual(5);
    expect(outcomes.filter((outcome) => outcome === "registration_throttled").length).toBeGreaterThanOrEqual(25);

    await register("taken");
    let hashes = 0;
    const real = createArgon2PasswordHasher(cheap);
    const counting = build({ ...real, hash: async (password) => ((hashes += 1), real.hash(password)) });
    expect(await codeOf(counting.registerUser({ tenantId: "default", email: "taken@example.com", username: "fresh-name", password: "a long enough passphrase", fullName: "", clientIp: "203.0.113.100" }))).toBe("email_taken");
    expect(await codeOf(counting.registerUser({ tenantId: "default", email: "fresh@example.com", username: "TAKEN", password: "a long enough passphrase", fullName: "", clientIp: "203.0.113.100" }))).toBe("username_taken");
    expect(hashes).toBe(0);
  });

  it("refuses self-registration on a tenant that closed it", async () => {
    await repositories.tenants.create({ id: "closed", slug: "closed", name: "Closed", domains: ["closed.test"], timeZone: "UTC", minPasswordLength: 8, selfRegistration: false });
    expect(await codeOf(useCases.registerUser({ tenantId: "closed", email: "x@example.com", username: "xavier", password: "a long enough passphrase", fullName: "", clientIp: "203.0.113.101" }))).toBe("registration_closed");
    const reopened = await repositories.tenants.update("closed", { selfRegistration: true });
    expect(reopened?.selfRegistration).toBe(true);
    expect(await codeOf(useCases.registerUser({ tenantId: "closed", email: "x@example.com", username: "xavier", password: "a long enough passphrase", fullName: "", clientIp: "203.0.113.101" }))).toBe("ok");
  });

  it("protects the platform operator from tenant admins", async () => {
    await useCases.seed(undefined, { email: "operator@example.com", password: "the operator passphrase" });
    const operator = (await repositories.users.findByLogin("default", "operator@example.com"))!;
    expect(operator.platformRole).toBe("operator");
    const admin = (await repositories.users.findByLogin("default", "admin"))!;
    expect(await codeOf(useCases.admin.updateUser(claimsOf(admin), operator.id, { status: "disabled" }))).toBe("operator_protected");
    expect(await codeOf(useCases.admin.updateUser(claimsOf(admin), operator.id, { maxChats: 1 }))).toBe("operator_protected");
    expect((await repositories.users.findById("default", operator.id))?.status).toBe("active");
  });

  it("leaves one admin when two admins demote each other at once", async () => {
    await repositories.tenants.create({ id: "duo", slug: "duo", name: "Duo", domains: ["duo.test"], timeZone: "UTC", minPasswordLength: 8, selfRegistration: true });
    const first = await register("first-admin", "duo");
    const second = await register("second-admin", "duo");
    await repositories.users.update("duo", first.id, { role: "admin" });
    await repositories.users.update("duo", second.id, { role: "admin" });
    const outcomes = await Promise.all([
      codeOf(useCases.admin.updateUser({ ...claimsOf(first), role: "admin" }, second.id, { role: "user" })),
      codeOf(useCases.admin.updateUser({ ...claimsOf(second), role: "admin" }, first.id, { status: "disabled" })),
    ]);
    expect(outcomes.filter((outcome) => outcome === "ok")).toHaveLength(1);
    expect(await repositories.users.countActiveAdmins("duo", 10)).toBe(1);
  });

  it("never promotes a stranger who registered the configured admin or operator login first", async () => {
    await repositories.tenants.ensureDefault();
    const squatter = await register("root");
    const opSquatter = await useCases.registerUser({ tenantId: "default", email: "ops@example.com", username: "ops-squatter", password: "the squatter's passphrase", fullName: "" });
    const notices: string[] = [];
    await useCases.seed({ email: "root@example.com", username: "root", password: "the configured passphrase" }, { email: "ops@example.com", password: "the configured op passphrase" }, (notice) => notices.push(notice.account));
    expect((await repositories.users.findById("default", squatter.id))?.role).toBe("user");
    expect((await repositories.users.findById("default", opSquatter.id))?.platformRole).toBeNull();
    expect(notices.sort()).toEqual(["first admin", "operator"]);
    // The rightful owner (the configured password) is promoted.
    await useCases.seed({ email: "root@example.com", username: "root", password: "a long enough passphrase" });
    expect((await repositories.users.findById("default", squatter.id))?.role).toBe("admin");
  });
});
