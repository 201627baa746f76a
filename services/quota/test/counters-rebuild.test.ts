import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mongoose from "mongoose";
import { createMongoUsageRollups } from "../src/adapters/mongo/mongo-usage-rollups.ts";
import { eventually, startQuotaHarness, usageEvent, userCaller, uniqueUserId, type QuotaHarness } from "./harness.ts";

let harness: QuotaHarness;
let consumer: Awaited<ReturnType<QuotaHarness["startConsumer"]>>;
beforeAll(async () => {
  harness = await startQuotaHarness();
  consumer = await harness.startConsumer();
});
afterAll(async () => {
  await consumer?.consumer.stop();
  await harness?.close();
});

const used = async (userId: string) => (await harness.useCases.getQuota(userCaller(userId))).used;

describe("Redis loses its data", () => {
  it("counters are rebuilt exactly from the rollups, and the events of the last flush are still recognised", async () => {
    const [alice, bob] = [uniqueUserId(), uniqueUserId()];
    const aliceEvents = [
      usageEvent({ userId: alice, totalTokens: 11, model: "a" }),
      usageEvent({ userId: alice, totalTokens: 13, model: "b" }),
      usageEvent({ userId: alice, totalTokens: 17, model: "a" }),
    ];
    const bobEvents = [usageEvent({ userId: bob, totalTokens: 5 })];
    for (const event of [...aliceEvents, ...bobEvents]) await harness.publish(event);
    const pending = await harness.useCases.checkAndReserve(userCaller(alice), "");
    await eventually(async () => {
      expect(await used(alice)).toEqual({ messages: 4, tokens: 41 });
      expect(await used(bob)).toEqual({ messages: 1, tokens: 5 });
      expect(await harness.rollupOf(alice)).toEqual({ messages: 3, tokens: 41 });
    });

    await harness.flushRedis();
    const rebuilt = await harness.useCases.rebuildCounters();
    expect(rebuilt.restored).toBeGreaterThanOrEqual(2);
    expect(await harness.redis.redis.exists(`${harness.infrastructure.redisKeyPrefix}quota:{t1:${alice}}:${pending.status.day}`)).toBe(1);
    // The in-flight reservation is gone with Redis; its event counts the message when it comes.
    expect(await used(alice)).toEqual({ messages: 3, tokens: 41 });
    expect(await used(bob)).toEqual({ messages: 1, tokens: 5 });

    // A redelivery of an event of the rollup's last flush (the only ones whose acknowledgement
    // can still be outstanding) changes nothing; new events count.
    const duplicatesBefore = consumer.consumer.stats.duplicates;
    await harness.publish(aliceEvents[2]!);
    await harness.publish(usageEvent({ userId: alice, reservationId: pending.reservationId, totalTokens: 100 }));
    await eventually(async () => expect(consumer.consumer.stats.duplicates).toBe(duplicatesBefore + 1));
    await eventually(async () => expect(await used(alice)).toEqual({ messages: 4, tokens: 141 }));
  });

  it("counters missing for today are restored on first use, without the rebuild command", async () => {
    const userId = uniqueUserId();
    for (let index = 0; index < 4; index += 1) await harness.publish(usageEvent({ userId, totalTokens: 25 }));
    await eventually(async () => expect(await used(userId)).toEqual({ messages: 4, tokens: 100 }));
    // Wiped once the flush is in MongoDB: a wipe before it makes the consumer count its batch again
    // from the rollups (eventually right, but not what this test asserts at once).
    await eventually(async () => expect(await harness.rollupOf(userId)).toEqual({ messages: 4, tokens: 100 }));
    await harness.flushRedis();
    const reservation = await harness.useCases.checkAndReserve(userCaller(userId), "");
    expect(reservation.status.used).toEqual({ messages: 5, tokens: 100 });
  });
});

describe("the start-up rebuild costs today's rollups, never every stored one", () => {
  it("with 20,000 stored rollups, finds today's rows with filters the document store applies itself", async () => {
    // Its own database and a connection that observes every command sent.
    const url = new URL(harness.infrastructure.mongoUrl);
    url.pathname = `${url.pathname}_rollups`;
    const connection = await mongoose.createConnection(url.toString(), { monitorCommands: true }).asPromise();
    const filters: Array<Record<string, unknown>> = [];
    connection.getClient().on("commandStarted", (event) => {
      if (event.commandName === "find" && event.command.find === "quota_usage_rollups") filters.push(event.command.filter as Record<string, unknown>);
    });
    try {
      const rollups = createMongoUsageRollups(connection);
      await rollups.ready();
      // 100 users over 200 days (written directly: 20,000 upserts would take minutes on FerretDB).
      const today = new Date();
      const dayOf = (offset: number) => new Date(today.getTime() - offset * 86_400_000).toISOString().slice(0, 10);
      for (let offset = 0; offset < 200; offset += 20) {
        await connection.db!.collection<{ _id: string }>("quota_usage_rollups").insertMany(
          Array.from({ length: 2_000 }, (_, index) => {
            const [userId, day] = [`u${index % 100}`, dayOf(offset + Math.floor(index / 100))];
            return {
              _id: `t1/${userId}/${day}`,
              tenantId: "t1",
              userId,
              day,
              messages: 1,
              tokens: 10,
              models: {},
              journal: "",
              recentKeys: [],
              updatedAt: today,
            };
          }),
        );
      }
      const days = [dayOf(1), dayOf(0), dayOf(-1)];
      const rows = [];
      for await (const row of rollups.rowsOfDays(days)) rows.push(row);
      expect(rows).toHaveLength(200);
      expect(new Set(rows.map((row) => row.day))).toEqual(new Set([dayOf(1), dayOf(0)]));
      // Whole, so the rebuild needs no read of each rollup by id (a scan of all of them on FerretDB v1).
      expect(rows[0]!.usage).toEqual({ messages: 1, tokens: 10, byModel: {}, recentKeys: [] });

      expect(filters.length).toBeGreaterThan(0);
      const info = await connection.db!.admin().command({ buildInfo: 1 });
      for (const filter of filters) {
        const explained = await connection.db!.command({ explain: { find: "quota_usage_rollups", filter }, verbosity: "queryPlanner" });
        // FerretDB v1 says whether PostgreSQL applies the filter; otherwise it is handed every rollup.
        if ("ferretdbVersion" in info) expect(explained.filterPushdown).toBe(true);
      }
    } finally {
      await connection.dropDatabase().catch(() => undefined);
      await connection.close();
    }
  }, 120_000);
});
