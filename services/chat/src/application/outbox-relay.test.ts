import { describe, expect, it } from "vitest";
import { systemClock } from "@tessera/platform";
import type { OutboxStore } from "../domain/ports.ts";
import type { UsageRecord } from "../domain/usage.ts";
import { createOutboxRelay } from "./outbox-relay.ts";

const record = (eventId: string): UsageRecord => ({
  eventId,
  occurredAt: new Date(),
  tenantId: "t",
  userId: "u",
  chatId: "c",
  messageId: eventId,
  model: "m",
  usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3 },
  source: "web",
  outcome: "complete",
  reservationId: "r",
});

/** An in-memory outbox with the same lease rule as the MongoDB one. */
function memoryStore(ids: string[]) {
  const events = new Map(ids.map((id) => [id, { record: record(id), pending: true, leaseUntil: 0 }]));
  const store: OutboxStore = {
    async claimPending(limit, leaseMs, now) {
      const free = [...events.values()].filter((event) => event.pending && event.leaseUntil <= now.getTime()).slice(0, limit);
      for (const event of free) event.leaseUntil = now.getTime() + leaseMs;
      return free.map((event) => event.record);
    },
    async markSent(eventIds) {
      for (const id of eventIds) events.get(id)!.pending = false;
    },
    async releaseClaims(eventIds) {
      for (const id of eventIds) events.get(id)!.leaseUntil = 0;
    },
  };
  return { store, pending: () => [...events.values()].filter((event) => event.pending).map((event) => event.record.eventId) };
}

describe("outbox relay", () => {
  it("marks sent only what the broker confirmed and offers the rest again at once", async () => {
    const { store, pending } = memoryStore(["a", "b", "c"]);
    let brokerUp = false;
    const published: string[] = [];
    const relay = createOutboxRelay({
      stores: [store],
      clock: systemClock,
      intervalMs: 60_000,
      publisher: {
        publish: async (event) => {
          if (!brokerUp && event.eventId === "b") throw new Error("amqp not connected");
          published.push(event.eventId);
        },
      },
    });
    await expect(relay.drain()).rejects.toThrow("amqp not connected");
    expect(pending()).toEqual(["b"]);
    brokerUp = true;
    expect(await relay.drain()).toBe(1);
    expect(pending()).toEqual([]);
    expect(published.sort()).toEqual(["a", "b", "c"]);
  });

  it("gives up on a publish that is never confirmed and keeps the event", async () => {
    const { store, pending } = memoryStore(["a"]);
    const relay = createOutboxRelay({
      stores: [store],
      clock: systemClock,
      intervalMs: 60_000,
      publishTimeoutMs: 20,
      publisher: { publish: () => new Promise(() => undefined) },
    });
    await expect(relay.drain()).rejects.toThrow("not confirmed");
    expect(pending()).toEqual(["a"]);
  });
});
