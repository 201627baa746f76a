import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
