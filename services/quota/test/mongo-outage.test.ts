import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startTcpProxy } from "../../../tests/e2e/support/tcp-proxy.ts";
import { eventually, startQuotaHarness, usageEvent, userCaller, uniqueUserId, type QuotaHarness } from "./harness.ts";

// MongoDB is reached through a proxy this file takes down: the shared server keeps running.
let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
let harness: QuotaHarness;

beforeAll(async () => {
  const target = new URL(inject("mongoUrl"));
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 27017) });
  harness = await startQuotaHarness({ mongoPort: proxy.port });
});
afterAll(async () => {
  await proxy?.start().catch(() => undefined);
  await harness?.close();
  await proxy?.stop();
});

describe("MongoDB unreachable", () => {
  it("events wait in the queues and are all counted, once, when it is back", async () => {
    const consumer = await harness.startConsumer({ retryDelayMs: 300, maxAttempts: 2 });
    const userId = uniqueUserId();
    for (let index = 0; index < 3; index += 1) await harness.publish(usageEvent({ userId, totalTokens: 10 }));
    await eventually(async () => expect((await harness.useCases.getQuota(userCaller(userId))).used).toEqual({ messages: 3, tokens: 30 }));

    await proxy.stop();
    for (let index = 0; index < 5; index += 1) await harness.publish(usageEvent({ userId, totalTokens: 10 }));
    // Outages are retried however long they last: more tries than maxAttempts, none dead-lettered.
    await eventually(async () => expect(consumer.consumer.stats.retried).toBeGreaterThanOrEqual(5 * 2), 60_000);
    expect(consumer.consumer.stats.deadLettered).toBe(0);

    await proxy.start();
    await eventually(async () => {
      expect((await harness.useCases.getQuota(userCaller(userId))).used).toEqual({ messages: 8, tokens: 80 });
      expect(await harness.rollupOf(userId)).toEqual({ messages: 8, tokens: 80 });
    }, 60_000);
    expect(await harness.queueDepth(harness.topology.deadLetterQueue)).toBe(0);
    await consumer.consumer.stop();
  });

  it("keeps counting new events in the live counters meanwhile, acknowledging none until their rollups are written", async () => {
    const consumer = await harness.startConsumer({ retryDelayMs: 300, maxAttempts: 2 });
    const userId = uniqueUserId();
    await harness.publish(usageEvent({ userId, totalTokens: 10 }));
    await eventually(async () => expect(await harness.rollupOf(userId)).toEqual({ messages: 1, tokens: 10 }));
    const acknowledged = () => consumer.consumer.stats.applied + consumer.consumer.stats.duplicates;
    const before = acknowledged();

    await proxy.stop();
    for (let index = 0; index < 4; index += 1) await harness.publish(usageEvent({ userId, totalTokens: 10 }));
    // Quota checks see the new usage while MongoDB is away…
    await eventually(async () => expect((await harness.useCases.getQuota(userCaller(userId))).used).toEqual({ messages: 5, tokens: 50 }));
    await eventually(async () => expect(consumer.consumer.stats.retried).toBeGreaterThanOrEqual(4));
    // …but nothing is acknowledged before it is durable.
    expect(acknowledged()).toBe(before);

    await proxy.start();
    await eventually(async () => {
      expect(await harness.rollupOf(userId)).toEqual({ messages: 5, tokens: 50 });
      expect(acknowledged()).toBe(before + 4);
    }, 60_000);
    expect((await harness.useCases.getQuota(userCaller(userId))).used).toEqual({ messages: 5, tokens: 50 });
    await consumer.consumer.stop();
  });
});
