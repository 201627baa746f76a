import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError, sessionCaller } from "@tessera/platform";
import { expiryShardOf } from "../src/adapters/redis/redis-live-counters.ts";
import { eventually, startQuotaHarness, usageEvent, userCaller, uniqueUserId, type QuotaHarness } from "./harness.ts";

let harness: QuotaHarness;
beforeAll(async () => {
  harness = await startQuotaHarness();
});
afterAll(() => harness?.close());

const setLimits = (userId: string, messages: number | null, tokens: number | null) =>
  harness.users.set(`t1/${userId}`, {
    id: userId,
    tenantId: "t1",
    username: userId,
    email: `${userId}@example.com`,
    premiumUntil: null,
    overrides: { messages, tokens },
  });

const rejection = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error as AppError;
  }
  throw new Error("expected a rejection");
};

describe("CheckAndReserve enforces limits exactly", () => {
  it("with one message left, exactly one of 25 simultaneous sends passes", async () => {
    const userId = uniqueUserId();
    setLimits(userId, 3, null);
    await harness.useCases.recordUsage(usageEvent({ userId }));
    await harness.useCases.recordUsage(usageEvent({ userId }));
    const results = await Promise.allSettled(Array.from({ length: 25 }, () => harness.useCases.checkAndReserve(userCaller(userId), "")));
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    const refusals = results.filter((result): result is PromiseRejectedResult => result.status === "rejected").map((result) => result.reason as AppError);
    expect(refusals).toHaveLength(24);
    expect(new Set(refusals.map((error) => error.code))).toEqual(new Set(["quota_exceeded"]));
    expect((await harness.useCases.getQuota(userCaller(userId))).used.messages).toBe(3);
  });

  it("refuses with 429, the limits, the usage and the reset time", async () => {
    const userId = uniqueUserId();
    setLimits(userId, 1, 1_000);
    await harness.useCases.checkAndReserve(userCaller(userId), "");
    const error = await rejection(harness.useCases.checkAndReserve(userCaller(userId), ""));
    expect(error).toBeInstanceOf(AppError);
    expect(error.status).toBe(429);
    expect(error.code).toBe("quota_exceeded");
    const resetAt = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`).getTime() + 86_400_000;
    expect(error.extensions).toEqual({ limits: { messages: 1, tokens: 1_000 }, used: { messages: 1, tokens: 0 }, resetAt: new Date(resetAt).toISOString() });
    expect(error.retryAfterSeconds).toBeGreaterThan(0);
    expect(error.retryAfterSeconds).toBeLessThanOrEqual(86_400);
  });

  it("blocks the next message once the token limit is exceeded", async () => {
    const userId = uniqueUserId();
    setLimits(userId, null, 500);
    const first = await harness.useCases.checkAndReserve(userCaller(userId), "");
    await harness.useCases.recordUsage(usageEvent({ userId, reservationId: first.reservationId, totalTokens: 499 }));
    const second = await harness.useCases.checkAndReserve(userCaller(userId), "");
    await harness.useCases.recordUsage(usageEvent({ userId, reservationId: second.reservationId, totalTokens: 10 }));
    const error = await rejection(harness.useCases.checkAndReserve(userCaller(userId), ""));
    expect(error.code).toBe("quota_exceeded");
    expect(error.extensions).toMatchObject({ used: { messages: 2, tokens: 509 } });
  });

  it("gives a released reservation back, once, and repeats a reservation id idempotently", async () => {
    const userId = uniqueUserId();
    setLimits(userId, 1, null);
    const reservation = await harness.useCases.checkAndReserve(userCaller(userId), "r-1");
    expect(await harness.useCases.checkAndReserve(userCaller(userId), "r-1")).toMatchObject({ reservationId: "r-1", status: { used: { messages: 1 } } });
    expect((await harness.useCases.release(userCaller(userId), reservation.reservationId)).used.messages).toBe(0);
    expect((await harness.useCases.release(userCaller(userId), reservation.reservationId)).used.messages).toBe(0);
    await harness.useCases.checkAndReserve(userCaller(userId), "");
    expect((await rejection(harness.useCases.checkAndReserve(userCaller(userId), ""))).code).toBe("quota_exceeded");
  });

  it("applies the tenant's published time zone and defaults from the very next call", async () => {
    const userId = uniqueUserId();
    expect((await harness.useCases.getQuota(sessionCaller({ userId, tenantId: "t-zone", role: "user" }))).limits).toEqual({ messages: 100, tokens: 500_000 });
    await harness.publishSettings("t-zone", { defaultLimits: { messages: 2, tokens: null }, timeZone: "Asia/Kolkata" });
    const status = await harness.useCases.getQuota(sessionCaller({ userId, tenantId: "t-zone", role: "user" }));
    expect(status.limits).toEqual({ messages: 2, tokens: 500_000 });
    expect(status.resetAt.getUTCHours() * 60 + status.resetAt.getUTCMinutes()).toBe(18 * 60 + 30);
  });
});

describe("when Redis is unreachable", () => {
  it("refuses sends by default (503) and reports it; allows them when configured to fail open", async () => {
    // Port 9 (discard) has no Redis: every counter operation fails as in an outage.
    const closed = await startQuotaHarness({ redisUrl: "redis://127.0.0.1:9" });
    const open = await startQuotaHarness({ redisUrl: "redis://127.0.0.1:9", failOpen: true });
    try {
      const error = await rejection(closed.useCases.checkAndReserve(userCaller(uniqueUserId()), ""));
      expect(error.status).toBe(503);
      expect(closed.outages).toEqual([{ operation: "reserve", failOpen: false }]);
      const allowed = await open.useCases.checkAndReserve(userCaller(uniqueUserId()), "");
      expect(allowed.status.used).toEqual({ messages: 0, tokens: 0 });
      expect(open.outages).toEqual([{ operation: "reserve", failOpen: true }]);
    } finally {
      await closed.close();
      await open.close();
    }
  });
});

describe("admin day usage", () => {
  it("defaults to today, pages through every user and totals the whole day", async () => {
    const tenantId = `t-day-${uniqueUserId()}`;
    const admin = sessionCaller({ userId: "admin", tenantId, role: "admin" });
    const userIds = Array.from({ length: 5 }, () => uniqueUserId()).sort();
    for (const [index, userId] of userIds.entries()) await harness.useCases.recordUsage(usageEvent({ tenantId, userId, totalTokens: 10 * (index + 1) }));
    const first = await harness.useCases.getDayUsage(admin, { date: "", limit: 2, cursor: "" });
    expect(first.date).toBe(new Date().toISOString().slice(0, 10));
    expect(first.totals).toEqual({ messages: 5, tokens: 150 });
    const seen = [...first.items];
    let cursor = first.nextCursor;
    while (cursor) {
      const page = await harness.useCases.getDayUsage(admin, { date: first.date, limit: 2, cursor });
      seen.push(...page.items);
      cursor = page.nextCursor;
    }
    expect(seen.map((item) => [item.userId, item.tokens, item.username])).toEqual(userIds.map((userId, index) => [userId, 10 * (index + 1), `u_${userId}`]));
    expect((await rejection(harness.useCases.getDayUsage({ ...admin, role: "user" }, { date: "", limit: 10, cursor: "" }))).status).toBe(403);
  });
});

describe("estimated tokens", () => {
  it("hold the token cap under concurrency: parallel sends overshoot it by at most one estimate", async () => {
    const userId = uniqueUserId();
    setLimits(userId, null, 1_000);
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => harness.useCases.checkAndReserve(userCaller(userId), "", 300)));
    // 0, 300, 600 and 900 held are under the cap; the fourth reservation takes it to 1,200.
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(4);
    expect(results.filter((result) => result.status === "rejected").map((result) => (result.reason as AppError).code)).toEqual(Array(8).fill("quota_exceeded"));
    expect((await harness.useCases.getQuota(userCaller(userId))).used).toEqual({ messages: 4, tokens: 1_200 });
  });

  it("are replaced by the real usage when the event settles the reservation, and given back on release", async () => {
    const userId = uniqueUserId();
    const consumer = await harness.startConsumer();
    try {
      const settled = await harness.useCases.checkAndReserve(userCaller(userId), "", 500);
      const released = await harness.useCases.checkAndReserve(userCaller(userId), "", 700);
      expect(released.status.used).toEqual({ messages: 2, tokens: 1_200 });
      await harness.publish(usageEvent({ userId, reservationId: settled.reservationId, totalTokens: 120 }));
      await eventually(async () => expect((await harness.useCases.getQuota(userCaller(userId))).used).toEqual({ messages: 2, tokens: 820 }));
      expect((await harness.useCases.release(userCaller(userId), released.reservationId)).used).toEqual({ messages: 1, tokens: 120 });
    } finally {
      await consumer.consumer.stop();
    }
  });
});

describe("abandoned reservations", () => {
  it("are charged at their estimate once they expire, and a late event of the same send is not counted again", async () => {
    const shortLived = await startQuotaHarness({ reservationTtlSeconds: 1 });
    const consumer = await shortLived.startConsumer();
    try {
      const userId = uniqueUserId();
      shortLived.users.set(`t1/${userId}`, {
        id: userId,
        tenantId: "t1",
        username: userId,
        email: `${userId}@example.com`,
        premiumUntil: null,
        overrides: { messages: 2, tokens: null },
      });
      const charge = shortLived.useCases.chargeExpiredReservations({ publish: shortLived.publish });
      await shortLived.useCases.checkAndReserve(userCaller(userId), "abandoned", 400);
      const released = await shortLived.useCases.checkAndReserve(userCaller(userId), "released", 50);
      expect((await rejection(shortLived.useCases.checkAndReserve(userCaller(userId), ""))).code).toBe("quota_exceeded");
      await shortLived.useCases.release(userCaller(userId), released.reservationId);
      // Nothing is due before the expiry; after it only the unsettled one is charged, once.
      expect(await charge()).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect(await charge()).toBe(1);
      expect(await charge()).toBe(0);
      const durable = async () => {
        return shortLived.rollupOf(userId);
      };
      await eventually(async () => expect(await durable()).toEqual({ messages: 1, tokens: 400 }));
      expect((await shortLived.useCases.getQuota(userCaller(userId))).used).toEqual({ messages: 1, tokens: 400 });
      // The late event of the abandoned send (its process came back) is the same usage.
      const duplicates = consumer.consumer.stats.duplicates;
      await shortLived.publish(usageEvent({ userId, reservationId: "abandoned", totalTokens: 5 }));
      await eventually(async () => expect(consumer.consumer.stats.duplicates).toBe(duplicates + 1));
      expect((await shortLived.useCases.getQuota(userCaller(userId))).used).toEqual({ messages: 1, tokens: 400 });
      expect(await durable()).toEqual({ messages: 1, tokens: 400 });
    } finally {
      await consumer.consumer.stop();
      await shortLived.close();
    }
  });

  it("settled before the charge is consumed: the charge is the duplicate", async () => {
    const shortLived = await startQuotaHarness({ reservationTtlSeconds: 1 });
    try {
      const userId = uniqueUserId();
      const published: Parameters<typeof shortLived.publish>[0][] = [];
      const charge = shortLived.useCases.chargeExpiredReservations({ publish: async (record) => void published.push(record) });
      await shortLived.useCases.checkAndReserve(userCaller(userId), "late", 400);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect(await charge()).toBe(1);
      // The completion's own event arrives first (the charge is still on its way).
      expect(await shortLived.useCases.recordUsage(usageEvent({ userId, reservationId: "late", totalTokens: 30 }))).toBe("applied");
      expect(await shortLived.useCases.recordUsage(published[0]!)).toBe("duplicate");
      expect((await shortLived.useCases.getQuota(userCaller(userId))).used).toEqual({ messages: 1, tokens: 30 });
      // Settled reservations are not due any more.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect(await charge()).toBe(0);
    } finally {
      await shortLived.close();
    }
  });
});

describe("the expiry sweep", () => {
  it("charges an expired reservation under the model and source it was made with", async () => {
    const shortLived = await startQuotaHarness({ reservationTtlSeconds: 1 });
    try {
      const userId = uniqueUserId();
      const published: Parameters<typeof shortLived.publish>[0][] = [];
      const charge = shortLived.useCases.chargeExpiredReservations({ publish: async (record) => void published.push(record) });
      await shortLived.useCases.checkAndReserve(userCaller(userId), "with-model", 250, { model: "gpt.4o-mini", source: "web" });
      // An API-key caller that names no source is charged as "api".
      const keyCaller = sessionCaller({ userId, tenantId: "t1", role: "user" });
      await shortLived.useCases.checkAndReserve({ ...keyCaller, kind: "apiKey", sessionId: null, apiKeyId: "k1" }, "without-model", 40);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect(await charge()).toBe(2);
      const byId = new Map(published.map((record) => [record.reservationId, record]));
      expect(byId.get("with-model")).toMatchObject({ model: "gpt.4o-mini", source: "web", totalTokens: 250, outcome: "expired" });
      expect(byId.get("without-model")).toMatchObject({ model: "", source: "api", totalTokens: 40 });
      for (const record of published) expect(await shortLived.useCases.recordUsage(record)).toBe("applied");
      const [today] = await shortLived.useCases.getUsage(userCaller(userId), { userId, from: "", to: "", asAdmin: false }).then((days) => days.slice(-1));
      expect(today!.byModel.map(({ model, messages, tokens }) => ({ model, messages, tokens })).sort((a, b) => a.model.localeCompare(b.model))).toEqual([
        { model: "gpt.4o-mini", messages: 1, tokens: 250 },
        { model: "unknown", messages: 1, tokens: 40 },
      ]);
    } finally {
      await shortLived.close();
    }
  });

  it("reserves, releases and sweeps with commands whose keys share one hash slot (Redis Cluster)", async () => {
    const shortLived = await startQuotaHarness({ reservationTtlSeconds: 1 });
    type Recorded = { name: string; getKeys(): Array<string | Buffer> };
    const client = shortLived.redis.redis as unknown as { sendCommand(command: Recorded, ...rest: unknown[]): unknown };
    const original = client.sendCommand.bind(client);
    const commands: Array<{ name: string; keys: string[] }> = [];
    client.sendCommand = (command, ...rest) => {
      commands.push({ name: command.name, keys: command.getKeys().map(String) });
      return original(command, ...rest);
    };
    try {
      const userId = uniqueUserId();
      const charge = shortLived.useCases.chargeExpiredReservations({ publish: async () => undefined });
      await shortLived.useCases.checkAndReserve(userCaller(userId), "kept", 10, { model: "m", source: "web" });
      const released = await shortLived.useCases.checkAndReserve(userCaller(userId), "given-back", 10);
      await shortLived.useCases.release(userCaller(userId), released.reservationId);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect(await charge()).toBe(1);
      const reservationCommands = commands.filter((command) => command.keys.length > 0);
      expect(reservationCommands.length).toBeGreaterThan(4);
      // Cluster routes by the hash tag: keys with one tag are in one slot.
      const tagOf = (key: string) => /\{([^}]+)\}/.exec(key)?.[1] ?? `untagged:${key}`;
      for (const command of reservationCommands)
        expect(new Set(command.keys.map(tagOf)), `${command.name} ${command.keys.join(" ")}`).toHaveProperty("size", 1);
      // Nothing but the move of an earlier version's entries touches the old shared index.
      const legacyKey = `${shortLived.infrastructure.redisKeyPrefix}quota:expiring`;
      expect(reservationCommands.filter((command) => command.keys.includes(legacyKey)).map((command) => command.name)).toEqual(["zrange"]);
    } finally {
      client.sendCommand = original;
      await shortLived.close();
    }
  });

  it("drops the index entry of a settled reservation, and of a released one once it is due", async () => {
    const shortLived = await startQuotaHarness({ reservationTtlSeconds: 1 });
    try {
      const userId = uniqueUserId();
      const shardKey = `${shortLived.infrastructure.redisKeyPrefix}quota:expiring:{${expiryShardOf("t1", userId)}}`;
      const indexed = () => shortLived.redis.redis.zrange(shardKey, "0", "-1");
      await shortLived.useCases.checkAndReserve(userCaller(userId), "settled", 10);
      const released = await shortLived.useCases.checkAndReserve(userCaller(userId), "released", 10);
      expect((await indexed()).sort()).toEqual([`t1|${userId}|released`, `t1|${userId}|settled`]);
      expect(await shortLived.useCases.recordUsage(usageEvent({ userId, reservationId: "settled" }))).toBe("applied");
      await eventually(async () => expect(await indexed()).toEqual([`t1|${userId}|released`]));
      await shortLived.useCases.release(userCaller(userId), released.reservationId);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect(await shortLived.useCases.chargeExpiredReservations({ publish: async () => undefined })()).toBe(0);
      expect(await indexed()).toEqual([]);
    } finally {
      await shortLived.close();
    }
  });

  it("takes over reservations an earlier version indexed in one shared sorted set", async () => {
    const shortLived = await startQuotaHarness();
    try {
      const userId = uniqueUserId();
      const prefix = shortLived.infrastructure.redisKeyPrefix;
      const due = Date.now() - 1_000;
      const day = new Date().toISOString().slice(0, 10);
      // As the earlier version stored it: "<day>|<expiresAt>|<estimate>" and one global index.
      await shortLived.redis.redis.hset(`${prefix}quota:{t1:${userId}}:pending`, "old", `${day}|${due}|123`);
      await shortLived.redis.redis.zadd(`${prefix}quota:expiring`, due, `t1|${userId}|old`);
      const published: Parameters<typeof shortLived.publish>[0][] = [];
      expect(await shortLived.useCases.chargeExpiredReservations({ publish: async (record) => void published.push(record) })()).toBe(1);
      expect(published[0]).toMatchObject({ reservationId: "old", userId, totalTokens: 123, model: "", source: "api" });
      expect(await shortLived.redis.redis.exists(`${prefix}quota:expiring`)).toBe(0);
    } finally {
      await shortLived.close();
    }
  });
});
