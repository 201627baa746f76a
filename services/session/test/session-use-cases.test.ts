import { randomBytes } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, base64url } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMongo, connectRedis, createCallerVerifier, createLogger, createSecretBox, unauthenticated, type Caller, type Clock } from "@tessera/platform";
import { outcomeOf, testInfrastructure } from "@tessera/platform/testing";
import { createJoseAccessTokenSigner } from "../src/adapters/crypto/jose-access-token-signer.ts";
import { sha256TokenHasher } from "../src/adapters/crypto/sha256-token-hasher.ts";
import { createMongoSessionRepository } from "../src/adapters/mongo/mongo-session-repository.ts";
import { createRedisSessionCache } from "../src/adapters/redis/redis-session-cache.ts";
import { createRedisGrantLedger } from "../src/adapters/redis/redis-grant-ledger.ts";
import { createRedisRefreshStore } from "../src/adapters/redis/redis-refresh-store.ts";
import { createRedisSessionEnds } from "../src/adapters/redis/redis-session-ends.ts";
import { createSessionUseCases } from "../src/application/session-use-cases.ts";
import { REFRESH_GRACE_SECONDS } from "../src/domain/session.ts";

const infrastructure = testInfrastructure("session");
const logger = createLogger("test", "silent");
let now = new Date();
const clock: Clock = { now: () => now };
let closeAll: () => Promise<void>;
let useCases: ReturnType<typeof createSessionUseCases>;
let signer: ReturnType<typeof createJoseAccessTokenSigner>;
let verify: (token: string) => Promise<Caller>;
const ended: string[] = [];
const users = new Map<string, { role: "user" | "admin"; status: string }>();
let redisClient: ReturnType<typeof connectRedis>["redis"];
let sessionStore: ReturnType<typeof createMongoSessionRepository>;
let mongoConnection: Awaited<ReturnType<typeof connectMongo>>["connection"];

beforeAll(async () => {
  const mongo = await connectMongo(infrastructure.mongoUrl, logger);
  const redis = connectRedis(infrastructure.redisUrl, logger);
  const sessions = createMongoSessionRepository(mongo.connection);
  await sessions.ready();
  redisClient = redis.redis;
  sessionStore = sessions;
  mongoConnection = mongo.connection;
  signer = createJoseAccessTokenSigner({
    connection: mongo.connection,
    box: createSecretBox(`k1:${randomBytes(32).toString("base64")}`),
    clock,
    rotateAfterDays: 30,
  });
  await signer.ensureCurrentKey();
  useCases = createSessionUseCases({
    sessions,
    refresh: createRedisRefreshStore(redis.redis, infrastructure.redisKeyPrefix),
    ends: createRedisSessionEnds(redis.redis, infrastructure.redisKeyPrefix),
    cache: createRedisSessionCache(redis.redis, infrastructure.redisKeyPrefix),
    grants: createRedisGrantLedger(redis.redis, infrastructure.redisKeyPrefix),
    signer,
    users: { current: async (_tenantId, userId) => users.get(userId) ?? null },
    events: { ended: async (ids) => void ended.push(...ids) },
    hasher: sha256TokenHasher,
    clock,
  });
  // What the edge does: the token checked locally, the session's liveness asked of the session service.
  const verifyToken = createCallerVerifier(() => useCases.jwks() as never);
  verify = async (token) => {
    const caller = await verifyToken(token);
    if (!(await useCases.isActive(caller.sessionId!))) throw unauthenticated("The session has ended.", "session_revoked");
    return caller;
  };
  closeAll = async () => {
    await sessions.close();
    await mongo.connection.dropDatabase();
    await mongo.close();
    await redis.close();
  };
});

afterAll(async () => closeAll?.());

const newUser = (role: "user" | "admin" = "user") => {
  const id = randomBytes(12).toString("hex");
  users.set(id, { role, status: "active" });
  return id;
};

const grantFor = (userId: string) => ({ tenantId: "default", userId, role: users.get(userId)!.role, grantId: randomBytes(8).toString("hex"), expiresAt: new Date(Date.now() + 60_000) });
const start = (userId: string, rememberMe = true) => useCases.createSession(grantFor(userId), { rememberMe, deviceInfo: "vitest", ip: "127.0.0.1" });

const codeOf = outcomeOf;

describe("sessions", () => {
  it("signs caller tokens for API-key callers that verify locally into the same Caller", async () => {
    const userId = newUser("admin");
    const issued = await useCases.issueCallerToken({ tenantId: "default", userId, role: "admin", platformRole: null, scopes: ["inference"], apiKeyId: "key-1" });
    expect(await createCallerVerifier(() => useCases.jwks() as never)(issued.token)).toEqual({
      tenantId: "default",
      userId,
      role: "admin",
      platformRole: null,
      scopes: ["inference"],
      kind: "apiKey",
      sessionId: null,
      apiKeyId: "key-1",
    });
  });

  it("issues a 15-minute ES256 access token with the claims of SPEC §4 and a 30-day or 24-hour refresh token", async () => {
    now = new Date();
    const userId = newUser("admin");
    const remembered = await start(userId, true);
    const claims = await verify(remembered.accessToken);
    expect(claims).toMatchObject({ userId, tenantId: "default", role: "admin", sessionId: remembered.session.id });
    const header = JSON.parse(Buffer.from(remembered.accessToken.split(".")[0]!, "base64url").toString());
    expect(header.alg).toBe("ES256");
    expect(header.kid).toEqual(expect.any(String));
    expect(remembered.accessExpiresAt.getTime() - now.getTime()).toBe(15 * 60 * 1000);
    expect(remembered.refreshExpiresAt.getTime() - now.getTime()).toBe(30 * 24 * 3600 * 1000);
    const plain = await start(userId, false);
    expect(plain.refreshExpiresAt.getTime() - now.getTime()).toBe(24 * 3600 * 1000);
  });

  it("rotates the refresh token on every refresh and revokes the session when an old one comes back", async () => {
    now = new Date();
    const userId = newUser();
    const first = await start(userId);
    const second = await useCases.refresh(first.refreshToken, "127.0.0.1");
    expect(second.refreshToken).not.toBe(first.refreshToken);
    const third = await useCases.refresh(second.refreshToken, "127.0.0.1");
    expect(third.session.id).toBe(first.session.id);

    now = new Date(now.getTime() + (REFRESH_GRACE_SECONDS + 1) * 1000);
    expect(await codeOf(useCases.refresh(first.refreshToken, "10.0.0.9"))).toBe("refresh_token_reused");
    // The whole family is gone: the newest token and the access token stop working too.
    expect(await codeOf(useCases.refresh(third.refreshToken, "127.0.0.1"))).toBe("invalid_refresh_token");
    expect(await codeOf(verify(third.accessToken))).toBe("session_revoked");
  });

  it("gives two racing refreshes of the same token the same successor", async () => {
    now = new Date();
    const userId = newUser();
    const first = await start(userId);
    const [a, b] = await Promise.all([useCases.refresh(first.refreshToken, "127.0.0.1"), useCases.refresh(first.refreshToken, "127.0.0.1")]);
    expect(a.refreshToken).toBe(b.refreshToken);
    // A late third tab within the grace window still gets it, and the successor works.
    const c = await useCases.refresh(first.refreshToken, "127.0.0.1");
    expect(c.refreshToken).toBe(a.refreshToken);
    const next = await useCases.refresh(a.refreshToken, "127.0.0.1");
    expect(await verify(next.accessToken)).toMatchObject({ userId });
  });

  it("ends a session everywhere when it is revoked, and all sessions of a disabled user", async () => {
    now = new Date();
    const userId = newUser();
    const one = await start(userId);
    const two = await start(userId);
    await useCases.revokeMine(await verify(one.accessToken), two.session.id);
    // Every process's cache hears of it before the answer.
    expect(ended).toContain(two.session.id);
    expect(await codeOf(verify(two.accessToken))).toBe("session_revoked");
    expect(await codeOf(verify(one.accessToken))).toBe("ok");

    const three = await start(userId);
    await useCases.revokeUserSessions("default", userId);
    expect(ended).toEqual(expect.arrayContaining([one.session.id, three.session.id]));
    expect(await codeOf(verify(one.accessToken))).toBe("session_revoked");
    expect(await codeOf(verify(three.accessToken))).toBe("session_revoked");

    const four = await start(userId);
    users.set(userId, { role: "user", status: "disabled" });
    expect(await codeOf(useCases.refresh(four.refreshToken, "127.0.0.1"))).toBe("invalid_refresh_token");
  });

  it("does not let another user (or tenant) revoke or list a session", async () => {
    now = new Date();
    const alice = newUser();
    const bob = newUser();
    const aliceSession = await start(alice);
    const bobSession = await start(bob);
    expect(await codeOf(useCases.revokeMine(await verify(bobSession.accessToken), aliceSession.session.id))).toBe("not_found");
    const listed = await useCases.listMine(await verify(bobSession.accessToken));
    expect(listed.map((item) => item.session.id)).toEqual([bobSession.session.id]);
    expect(listed[0]!.current).toBe(true);
  });

  it("refuses forged tokens: alg none, HS256 keyed with the public key, a foreign kid, a foreign key", async () => {
    now = new Date();
    const userId = newUser("admin");
    const genuine = await start(userId);
    const [headerPart, payloadPart] = genuine.accessToken.split(".");
    const header = JSON.parse(Buffer.from(headerPart!, "base64url").toString());
    const payload = JSON.parse(Buffer.from(payloadPart!, "base64url").toString());

    const none = `${base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }))}.${payloadPart}.`;
    expect(await codeOf(verify(none))).toBe("invalid_token");

    const jwks = (await useCases.jwks()) as { keys: Array<Record<string, string>> };
    const publicJwk = jwks.keys.find((key) => key.kid === header.kid)!;
    const hs256 = await new SignJWT(payload).setProtectedHeader({ alg: "HS256", kid: header.kid }).sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
    expect(await codeOf(verify(hs256))).toBe("invalid_token");

    const { privateKey, publicKey } = await generateKeyPair("ES256");
    void (await exportJWK(publicKey));
    const foreignKid = await new SignJWT(payload).setProtectedHeader({ alg: "ES256", kid: "attacker" }).sign(privateKey);
    expect(await codeOf(verify(foreignKid))).toBe("invalid_token");
    const sameKidForeignKey = await new SignJWT(payload).setProtectedHeader({ alg: "ES256", kid: header.kid }).sign(privateKey);
    expect(await codeOf(verify(sameKidForeignKey))).toBe("invalid_token");

    const tampered = `${headerPart}.${base64url.encode(JSON.stringify({ ...payload, role: "admin", sub: "someone-else" }))}.${genuine.accessToken.split(".")[2]}`;
    expect(await codeOf(verify(tampered))).toBe("invalid_token");
  });

  it("keeps tokens of the previous signing key valid after a rotation, and publishes both keys", async () => {
    now = new Date();
    const userId = newUser();
    const before = await start(userId);
    now = new Date(now.getTime() + 31 * 24 * 3600 * 1000);
    await signer.ensureCurrentKey();
    now = new Date();
    const after = await start(userId);
    const kid = (token: string) => JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()).kid;
    expect(kid(after.accessToken)).not.toBe(kid(before.accessToken));
    const fresh = createCallerVerifier(() => useCases.jwks() as never);
    expect(await fresh(before.accessToken)).toMatchObject({ userId });
    expect(await fresh(after.accessToken)).toMatchObject({ userId });
  });

  it("rejects an expired access token", async () => {
    now = new Date(Date.now() - 16 * 60 * 1000);
    const userId = newUser();
    const old = await start(userId);
    now = new Date();
    const fresh = createCallerVerifier(() => useCases.jwks() as never);
    expect(await codeOf(fresh(old.accessToken))).toBe("token_expired");
  });
});

describe("refresh rotation in Redis", () => {
  const refreshKey = (sessionId: string) => `${infrastructure.redisKeyPrefix}session:refresh:${sessionId}`;
  // Signing keys rotated in an earlier test: a verifier that fetches the current JWKS.
  const freshVerify = async (token: string) => {
    const caller = await createCallerVerifier(() => useCases.jwks() as never)(token);
    if (!(await useCases.isActive(caller.sessionId!))) throw unauthenticated("The session has ended.", "session_revoked");
    return caller;
  };

  it("writes rotations behind to the session list, one update per session however many refreshes", async () => {
    now = new Date();
    const userId = newUser();
    const first = await start(userId);
    let token = first.refreshToken;
    for (let index = 0; index < 5; index += 1) {
      now = new Date(now.getTime() + 1_000);
      token = (await useCases.refresh(token, `10.0.0.${index}`)).refreshToken;
    }
    await sessionStore.flush();
    const [listed] = await useCases.listMine(await freshVerify(first.accessToken));
    expect(listed!.session).toMatchObject({ id: first.session.id, ip: "10.0.0.4", lastUsedAt: now });
  });

  it("a wiped Redis signs people out, and never revives a revoked session", async () => {
    now = new Date();
    const userId = newUser();
    const live = await start(userId);
    const revoked = await start(userId);
    await useCases.revokeMine(await freshVerify(live.accessToken), revoked.session.id);
    expect(await codeOf(useCases.refresh(revoked.refreshToken, "127.0.0.1"))).toBe("invalid_refresh_token");
    await redisClient.del(refreshKey(live.session.id), refreshKey(revoked.session.id));
    expect(await codeOf(useCases.refresh(live.refreshToken, "127.0.0.1"))).toBe("invalid_refresh_token");
    expect(await codeOf(useCases.refresh(revoked.refreshToken, "127.0.0.1"))).toBe("invalid_refresh_token");
  });

  it("moves a session of an earlier version (refresh state only in the database) to Redis on its first refresh", async () => {
    now = new Date();
    const userId = newUser();
    const legacy = await start(userId);
    await redisClient.del(refreshKey(legacy.session.id));
    await mongoConnection.collection("sessions").updateOne({ _id: legacy.session.id as never }, { $unset: { refreshIn: "" } });
    const next = await useCases.refresh(legacy.refreshToken, "127.0.0.1");
    expect(await redisClient.exists(refreshKey(legacy.session.id))).toBe(1);
    expect((await useCases.refresh(next.refreshToken, "127.0.0.1")).session.id).toBe(legacy.session.id);
    // A revoked one of them is not moved.
    const revoked = await start(userId);
    await useCases.revokeMine(await freshVerify(next.accessToken), revoked.session.id);
    await mongoConnection.collection("sessions").updateOne({ _id: revoked.session.id as never }, { $unset: { refreshIn: "" } });
    expect(await codeOf(useCases.refresh(revoked.refreshToken, "127.0.0.1"))).toBe("invalid_refresh_token");
  });

  it("one refresh is one Redis script: many racing tabs of one token all get the same successor", async () => {
    now = new Date();
    const userId = newUser();
    const first = await start(userId);
    const results = await Promise.all(Array.from({ length: 20 }, () => useCases.refresh(first.refreshToken, "127.0.0.1")));
    expect(new Set(results.map((result) => result.refreshToken)).size).toBe(1);
  });
});
