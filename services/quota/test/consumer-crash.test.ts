import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UsageRecord } from "../src/domain/usage.ts";
import { eventually, startQuotaHarness, usageEvent, userCaller, uniqueUserId, type QuotaHarness } from "./harness.ts";

// Connection loss is simulated from the client side (the TCP connection is destroyed), which is
// what a crashed consumer or a restarted broker looks like to the other end; the shared broker
// itself is never restarted.
let harness: QuotaHarness;
beforeAll(async () => {
  harness = await startQuotaHarness();
});
afterAll(() => harness?.close());

const totalOf = async (userIds: string[]) => {
  let messages = 0;
  let tokens = 0;
  for (const userId of userIds) {
    const live = (await harness.useCases.getQuota(userCaller(userId))).used;
    expect(await harness.rollupOf(userId)).toEqual(live);
    messages += live.messages;
    tokens += live.tokens;
  }
  return { messages, tokens };
};

/** Publishes until the broker confirms, as a publisher with confirms does across reconnects. */
const publishSurely = async (event: UsageRecord) => {
  for (;;) {
    try {
      return await harness.publish(event);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
};

describe("crashes and connection loss", () => {
  it("a consumer killed between effect and ack double-counts nothing", async () => {
    const userIds = [uniqueUserId(), uniqueUserId(), uniqueUserId()];
    const events = Array.from({ length: 30 }, (_, index) => usageEvent({ userId: userIds[index % 3]!, totalTokens: index + 1 }));
    let effects = 0;
    let killed = false;
    const dying: { current?: Awaited<ReturnType<QuotaHarness["startConsumer"]>> } = {};
    dying.current = await harness.startConsumer({
      // Small batches, so the process dies with some of the 30 counted and the rest still queued.
      batchSize: 5,
      handleBatch: async (records) => {
        if (killed) throw new Error("this consumer is dead");
        const counted = await harness.useCases.recordUsageBatch(records);
        await counted.written;
        effects += counted.results.filter((result) => result === "applied").length;
        if (effects >= 5) {
          // The effect is in Redis and MongoDB, the ack is not sent: the process "dies" here.
          killed = true;
          dying.current!.dropConnection();
          await dying.current!.amqp.close();
        }
        return counted;
      },
    });
    for (const event of events) await harness.publish(event);
    await eventually(async () => expect(killed).toBe(true));
    const restarted = await harness.startConsumer();
    await eventually(async () => expect(await totalOf(userIds)).toEqual({ messages: 30, tokens: (30 * 31) / 2 }));
    // The event whose effect landed without an ack came back and was recognised.
    expect(restarted.consumer.stats.duplicates).toBeGreaterThanOrEqual(1);
    expect(effects + restarted.consumer.stats.applied).toBe(30);
    await restarted.consumer.stop();
  });

  it("loses nothing and counts nothing twice when connections drop mid-stream", async () => {
    const consumer = await harness.startConsumer();
    const userIds = Array.from({ length: 8 }, () => uniqueUserId());
    const total = 240;
    for (let index = 0; index < total; index += 1) {
      if (index === 60 || index === 160) consumer.dropConnection();
      if (index === 110) harness.dropPublisherConnection();
      await publishSurely(usageEvent({ userId: userIds[index % userIds.length]!, totalTokens: 10 }));
    }
    await eventually(async () => expect(await totalOf(userIds)).toEqual({ messages: total, tokens: total * 10 }), 40_000);
    await consumer.consumer.stop();
  });
});
