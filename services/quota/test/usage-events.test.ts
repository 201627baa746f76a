import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startQuotaHarness, eventually, usageEvent, userCaller, uniqueUserId, type QuotaHarness } from "./harness.ts";

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

const quotaOf = (userId: string) => harness.useCases.getQuota(userCaller(userId));
const todayOf = async (userId: string) => (await harness.useCases.getUsage(userCaller(userId), { userId: "", from: "", to: "" })).at(-1)!;

describe("usage events through RabbitMQ into live counters and daily rollups", () => {
  it("counts an event published several times once, in Redis and in MongoDB", async () => {
    const userId = uniqueUserId();
    const events = [usageEvent({ userId, totalTokens: 120 }), usageEvent({ userId, totalTokens: 30, model: "other.model" })];
    for (const event of [...events, ...events, events[0]!]) await harness.publish(event);
    const marker = usageEvent({ userId, totalTokens: 1 });
    await harness.publish(marker);
    await eventually(async () => expect((await quotaOf(userId)).used).toEqual({ messages: 3, tokens: 151 }));
    await eventually(async () => expect(await harness.rollupOf(userId)).toEqual({ messages: 3, tokens: 151 }));
    const today = await todayOf(userId);
    expect({ messages: today.messages, tokens: today.tokens }).toEqual({ messages: 3, tokens: 151 });
    expect(today.byModel).toEqual([
      { model: "demo-model", messages: 2, tokens: 121 },
      { model: "other.model", messages: 1, tokens: 30 },
    ]);
    expect(consumer.consumer.stats.duplicates).toBeGreaterThanOrEqual(3);
  });

  it("settles a reservation with the event's tokens without counting the message twice", async () => {
    const userId = uniqueUserId();
    const { reservationId } = await harness.useCases.checkAndReserve(userCaller(userId), "");
    expect((await quotaOf(userId)).used).toEqual({ messages: 1, tokens: 0 });
    await harness.publish(usageEvent({ userId, reservationId, totalTokens: 250 }));
    await eventually(async () => expect((await quotaOf(userId)).used).toEqual({ messages: 1, tokens: 250 }));
    expect((await todayOf(userId)).messages).toBe(1);
    // Releasing after the event changes nothing: the reservation was settled.
    expect((await harness.useCases.release(userCaller(userId), reservationId)).used).toEqual({ messages: 1, tokens: 250 });
  });

  it("counts an aborted answer and the tokens of a failed one, but not a failed message", async () => {
    const userId = uniqueUserId();
    const failed = await harness.useCases.checkAndReserve(userCaller(userId), "");
    await harness.publish(usageEvent({ userId, outcome: "aborted", totalTokens: 0, promptTokens: 10, completionTokens: 5 }));
    await harness.publish(usageEvent({ userId, outcome: "failed", totalTokens: 7, reservationId: failed.reservationId }));
    await eventually(async () => expect((await quotaOf(userId)).used).toEqual({ messages: 1, tokens: 22 }));
    expect(await todayOf(userId)).toMatchObject({ messages: 1, tokens: 22 });
  });

  it("dead-letters poison messages and keeps counting the good ones", async () => {
    const userId = uniqueUserId();
    await harness.publishRaw(Buffer.from("definitely not protobuf \u00ff\u00fe"), "poison-bytes");
    await harness.publish(usageEvent({ userId, schemaVersion: 99 }));
    await harness.publish(usageEvent({ userId, totalTokens: -5 }));
    await harness.publish(usageEvent({ userId, tenantId: "" }));
    await harness.publish(usageEvent({ userId, totalTokens: 42 }));
    await eventually(async () => expect((await quotaOf(userId)).used).toEqual({ messages: 1, tokens: 42 }));
    const dead = await eventually(async () => {
      const depth = await harness.queueDepth(harness.topology.deadLetterQueue);
      expect(depth).toBe(4);
      return harness.drain(harness.topology.deadLetterQueue);
    });
    expect(dead.map((message) => String(message.headers["x-quota-error"]))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/not a usage event/),
        expect.stringMatching(/schema version 99/),
        expect.stringMatching(/token counts/),
        expect.stringMatching(/tenantId/),
      ]),
    );
    expect(await harness.queueDepth(harness.topology.queue)).toBe(0);
  });
});
