import { randomBytes } from "node:crypto";
import mongoose, { type Connection } from "mongoose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRedis, createLogger, createSecretBox, sessionCaller, type Clock, type Redis } from "@tessera/platform";
import { testInfrastructure } from "@tessera/platform/testing";
import { createJoseAccessTokenSigner } from "../src/adapters/crypto/jose-access-token-signer.ts";
import { sha256TokenHasher } from "../src/adapters/crypto/sha256-token-hasher.ts";
import { createMongoSessionRepository } from "../src/adapters/mongo/mongo-session-repository.ts";
import { createRedisGrantLedger } from "../src/adapters/redis/redis-grant-ledger.ts";
import { createRedisRefreshStore } from "../src/adapters/redis/redis-refresh-store.ts";
import { createRedisSessionCache } from "../src/adapters/redis/redis-session-cache.ts";
import { createRedisSessionEnds, sessionEndsKey } from "../src/adapters/redis/redis-session-ends.ts";
import { createSessionUseCases } from "../src/application/session-use-cases.ts";

// Real FerretDB and Redis, with every command the driver sends to the document store observed:
// the hourly purge must read what is due, never what is stored.
const infrastructure = testInfrastructure("session-purge");
const logger = createLogger("test", "silent");
const day = 24 * 3600 * 1000;
let now = new Date();
const clock: Clock = { now: () => now };
let connection: Connection;
let redis: { redis: Redis; close(): Promise<void> };
let useCases: ReturnType<typeof createSessionUseCases>;
let sessions: ReturnType<typeof createMongoSessionRepository>;
const commands: Array<{ name: string; command: Record<string, unknown> }> = [];

beforeAll(async () => {
  connection = await mongoose.createConnection(infrastructure.mongoUrl, { monitorCommands: true, retryWrites: false }).asPromise();
  connection.getClient().on("commandStarted", (event) => commands.push({ name: event.commandName, command: event.command as Record<string, unknown> }));
  redis = connectRedis(infrastructure.redisUrl, logger);
  sessions = createMongoSessionRepository(connection);
  await sessions.ready();
  const signer = createJoseAccessTokenSigner({ connection, box: createSecretBox(`k1:${randomBytes(32).toString("base64")}`), clock, rotateAfterDays: 30 });
  await signer.ensureCurrentKey();
  useCases = createSessionUseCases({
    sessions,
    refresh: createRedisRefreshStore(redis.redis, infrastructure.redisKeyPrefix),
    ends: createRedisSessionEnds(redis.redis, infrastructure.redisKeyPrefix),
    cache: createRedisSessionCache(redis.redis, infrastructure.redisKeyPrefix),
    grants: createRedisGrantLedger(redis.redis, infrastructure.redisKeyPrefix),
    signer,
    users: { current: async () => ({ role: "user", status: "active" }) },
    events: { ended: async () => undefined },
    hasher: sha256TokenHasher,
    clock,
  });
});

afterAll(async () => {
  await sessions?.close();
  await connection?.db?.dropDatabase().catch(() => undefined);
  await connection?.close();
  const keys = await redis?.redis.keys(`${infrastructure.redisKeyPrefix}*`);
  if (keys?.length) await redis.redis.del(...keys);
  await redis?.close();
});

const open = (userId: string, rememberMe = true) =>
  useCases.createSession(
    { tenantId: "t1", userId, role: "user", grantId: randomBytes(8).toString("hex"), expiresAt: new Date(Date.now() + 60_000) },
    { rememberMe, deviceInfo: "vitest", ip: "127.0.0.1" },
  );

/** What the purge asked of the document store: every command but the driver's own handshakes. */
const storeCommands = () => commands.filter((entry) => !["hello", "isMaster", "ismaster", "ping", "endSessions"].includes(entry.name));

describe("purging ended sessions costs what is due, never what is stored", () => {
  it("with 5,000 stored sessions, an idle purge reads nothing and a due one deletes only the due sessions, by id", async () => {
    // 5,000 live sessions of an earlier version, stored before the index of ends existed
    // (written directly: one create each would take minutes on FerretDB).
    const createdAt = new Date();
    for (let page = 0; page < 5; page += 1) {
      await connection.db!.collection<{ _id: string }>("sessions").insertMany(
        Array.from({ length: 1_000 }, (_, index) => ({
          _id: `stored-${page}-${index}`,
          tenantId: "t1",
          userId: `u${index}`,
          role: "user",
          deviceInfo: "",
          ip: "",
          rememberMe: true,
          createdAt,
          lastUsedAt: createdAt,
          expiresAt: new Date(createdAt.getTime() + 30 * day),
          refreshHash: "h",
          previousRefreshHash: null,
          rotatedAt: null,
          revokedAt: null,
          revokedReason: null,
        })),
      );
    }
    // The first purge indexes what is stored, once.
    now = new Date();
    expect(await useCases.purgeEnded(new Date(now.getTime() - 30 * day))).toBe(0);
    expect(await redis.redis.zcard(sessionEndsKey(infrastructure.redisKeyPrefix))).toBe(5_000);

    // Sessions of this version: one that a refresh keeps alive, one revoked, one left to expire.
    const kept = await open("kept", false);
    const revoked = await open("revoked");
    const expiring = await open("expiring", false);
    await useCases.revokeMine(sessionCaller({ tenantId: "t1", userId: "revoked", role: "user", sessionId: revoked.session.id }), revoked.session.id);
    now = new Date(now.getTime() + 20 * 3600 * 1000);
    const refreshed = await useCases.refresh(kept.refreshToken, "127.0.0.1");
    await sessions.flush();

    // An idle purge (nothing ended 30 days ago): not one command to the document store.
    commands.length = 0;
    expect(await useCases.purgeEnded(new Date(now.getTime() - 30 * day))).toBe(0);
    expect(storeCommands()).toEqual([]);

    // 31 days on: the revoked one and the one that expired are due; the stored ones and the
    // refreshed one are not (it expires 24 hours after its refresh).
    now = new Date(now.getTime() + 31 * day - 20 * 3600 * 1000 + 3600 * 1000);
    const before = new Date(now.getTime() - 30 * day);
    expect(refreshed.refreshExpiresAt.getTime()).toBeGreaterThan(before.getTime());
    commands.length = 0;
    expect(await useCases.purgeEnded(before)).toBe(2);
    const purge = storeCommands();
    expect(purge.map((entry) => entry.name)).toEqual(["delete", "delete"]);
    const deleted = purge.flatMap((entry) => (entry.command.deletes as Array<{ q: Record<string, unknown> }>).map((statement) => statement.q));
    expect(deleted).toEqual(expect.arrayContaining([{ _id: revoked.session.id }, { _id: expiring.session.id }]));
    expect(deleted).toHaveLength(2);

    const left = await connection.db!.collection("sessions").countDocuments();
    expect(left).toBe(5_001);
    expect(await sessions.findById(kept.session.id)).not.toBeNull();
    expect(await sessions.findById(revoked.session.id)).toBeNull();

    // Purged sessions leave the index; the next idle purge is free again.
    commands.length = 0;
    expect(await useCases.purgeEnded(before)).toBe(0);
    expect(storeCommands()).toEqual([]);
    expect(await redis.redis.zcard(sessionEndsKey(infrastructure.redisKeyPrefix))).toBe(5_001);
  });

  it("indexes the stored sessions again after a wiped Redis, keeping their end (revocation or expiry)", async () => {
    now = new Date();
    const ended = await open("wiped");
    await useCases.revokeMine(sessionCaller({ tenantId: "t1", userId: "wiped", role: "user", sessionId: ended.session.id }), ended.session.id);
    const keys = await redis.redis.keys(`${infrastructure.redisKeyPrefix}*`);
    await redis.redis.del(...keys);

    now = new Date(now.getTime() + 31 * day);
    commands.length = 0;
    expect(await useCases.purgeEnded(new Date(now.getTime() - 30 * day))).toBe(1);
    expect(await sessions.findById(ended.session.id)).toBeNull();
    // One read of every stored session to rebuild the index, then only what is due.
    commands.length = 0;
    expect(await useCases.purgeEnded(new Date(now.getTime() - 30 * day))).toBe(0);
    expect(storeCommands()).toEqual([]);
  });
});
