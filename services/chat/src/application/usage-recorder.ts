import type { UsageOutbox, UsagePublisher, UsageRecorder } from "../domain/ports.ts";

export interface UsageRecorderOptions {
  publisher: UsagePublisher;
  outbox: UsageOutbox;
  /** How long a publish may wait for the broker's confirm before the event goes to the outbox. */
  publishTimeoutMs: number;
  /** Something went to the outbox: the relay should try it soon. */
  stored(): void;
  /** Neither the broker nor the outbox took the event (the reservation's expiry charges its estimate). */
  onLost(error: unknown): void;
}

/**
 * Records a completion's usage: published at once with a publisher confirm (no document write
 * on the way); only when the broker does not confirm in time is the event stored in the outbox,
 * which the relay empties as the broker comes back. Never throws: if even the outbox is down,
 * the reservation stays unsettled and is charged at its estimate when it expires. Records still
 * on their way are tracked, so a graceful stop waits for them (`drain`).
 */
export function createUsageRecorder(options: UsageRecorderOptions): UsageRecorder & { drain(): Promise<void> } {
  const inFlight = new Set<Promise<void>>();
  const confirmed = (promise: Promise<void>) =>
    new Promise<void>((resolve, reject) => {
      const timeout = setTimeout(() => reject(new Error("usage event not confirmed in time")), options.publishTimeoutMs);
      promise.then(
        () => (clearTimeout(timeout), resolve()),
        (error: unknown) => (clearTimeout(timeout), reject(error instanceof Error ? error : new Error(String(error)))),
      );
    });
  const deliver = async (usage: Parameters<UsageRecorder["record"]>[0]) => {
    try {
      await confirmed(options.publisher.publish(usage));
      return;
    } catch {
      // The broker is down or slow: keep the event for the relay.
    }
    try {
      await options.outbox.add(usage);
      options.stored();
    } catch (error) {
      options.onLost(error);
    }
  };
  return {
    record(usage) {
      const delivery = deliver(usage).finally(() => inFlight.delete(delivery));
      inFlight.add(delivery);
      return delivery;
    },
    async drain() {
      while (inFlight.size > 0) await Promise.all(inFlight);
    },
  };
}
