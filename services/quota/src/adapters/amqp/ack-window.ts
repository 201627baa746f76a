import type { ConsumeMessage } from "amqplib";

/** What the window needs of a channel: a (multiple) ack. */
export interface Acknowledger {
  ack(message: ConsumeMessage, allUpTo?: boolean): void;
}

/**
 * Acknowledges one channel's deliveries with as few frames as possible, never one too early: a
 * delivery is acknowledged only once it and every delivery received before it are settled, and
 * then with one `multiple` ack up to the last of them. Settling out of order (a parked event, a
 * batch retried through an outage) holds the later acks back until the earlier ones are settled.
 *
 * The ack names the last settled delivery that is still outstanding (settled deliveries that
 * were nacked are skipped): RabbitMQ closes the channel on an ack of a tag it no longer knows.
 */
export function createAckWindow(channel: Acknowledger) {
  // Outstanding delivery tags in the order they arrived (tags only grow on a channel).
  let tags: number[] = [];
  let head = 0;
  // Settled but not yet acknowledged: the delivery to ack, or null when it was nacked.
  const settled = new Map<number, ConsumeMessage | null>();

  const flush = () => {
    let last: ConsumeMessage | null = null;
    while (head < tags.length) {
      const tag = tags[head]!;
      const message = settled.get(tag);
      if (message === undefined) break;
      settled.delete(tag);
      if (message) last = message;
      head += 1;
    }
    if (head > 4096 && head * 2 > tags.length) {
      tags = tags.slice(head);
      head = 0;
    }
    if (!last) return;
    try {
      channel.ack(last, true);
    } catch {
      // Channel closed: the broker redelivers whatever was not acknowledged, and the counters
      // recognise it.
    }
  };

  return {
    /** Records a delivery as outstanding (call in delivery order). */
    received(message: ConsumeMessage): void {
      tags.push(message.fields.deliveryTag);
    },
    /** These deliveries may be acknowledged (once every earlier one may be too). */
    settle(messages: Iterable<ConsumeMessage>): void {
      for (const message of messages) settled.set(message.fields.deliveryTag, message);
      flush();
    },
    /** This delivery was nacked on its own: it no longer holds the later ones back. */
    forget(message: ConsumeMessage): void {
      settled.set(message.fields.deliveryTag, null);
      flush();
    },
    /** Deliveries received and not yet acknowledged or forgotten. */
    get outstanding(): number {
      return tags.length - head;
    },
  };
}

export type AckWindow = ReturnType<typeof createAckWindow>;
