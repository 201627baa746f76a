import { describe, expect, it } from "vitest";
import type { ConsumeMessage } from "amqplib";
import { createAckWindow } from "./ack-window.ts";

const delivery = (deliveryTag: number) => ({ fields: { deliveryTag } }) as ConsumeMessage;

function recorder() {
  const acks: Array<{ tag: number; multiple: boolean }> = [];
  return {
    acks,
    channel: { ack: (message: ConsumeMessage, allUpTo?: boolean) => void acks.push({ tag: message.fields.deliveryTag, multiple: allUpTo === true }) },
  };
}

describe("ack window", () => {
  it("acknowledges a settled batch with one multiple ack up to its last delivery", () => {
    const { acks, channel } = recorder();
    const window = createAckWindow(channel);
    const batch = [1, 2, 3, 4].map(delivery);
    batch.forEach(window.received);
    window.settle(batch);
    expect(acks).toEqual([{ tag: 4, multiple: true }]);
    expect(window.outstanding).toBe(0);
  });

  it("holds a later batch back until every earlier delivery is settled", () => {
    const { acks, channel } = recorder();
    const window = createAckWindow(channel);
    const all = [1, 2, 3, 4, 5, 6].map(delivery);
    all.forEach(window.received);
    window.settle(all.slice(3)); // 4..6 before 1..3
    expect(acks).toEqual([]);
    window.settle([all[0]!, all[2]!]); // 2 still open (a parked event, say)
    expect(acks).toEqual([{ tag: 1, multiple: true }]);
    window.settle([all[1]!]);
    expect(acks).toEqual([
      { tag: 1, multiple: true },
      { tag: 6, multiple: true },
    ]);
    expect(window.outstanding).toBe(0);
  });

  it("never acks a delivery that was nacked: the ack names the last outstanding settled one", () => {
    const { acks, channel } = recorder();
    const window = createAckWindow(channel);
    const all = [7, 8, 9].map(delivery);
    all.forEach(window.received);
    window.settle([all[0]!]);
    window.forget(all[2]!); // 9 went back to the queue
    window.settle([all[1]!]);
    expect(acks).toEqual([
      { tag: 7, multiple: true },
      { tag: 8, multiple: true },
    ]);
    window.forget(delivery(10)); // unknown to the window: nothing to ack
    expect(acks).toHaveLength(2);
  });

  it("keeps order over many deliveries (the tag list is compacted as it goes)", () => {
    const { acks, channel } = recorder();
    const window = createAckWindow(channel);
    for (let tag = 1; tag <= 20_000; tag += 1) window.received(delivery(tag));
    for (let start = 1; start <= 20_000; start += 1_000) window.settle(Array.from({ length: 1_000 }, (_, offset) => delivery(start + offset)));
    expect(acks).toHaveLength(20);
    expect(acks.at(-1)).toEqual({ tag: 20_000, multiple: true });
    expect(window.outstanding).toBe(0);
  });
});
