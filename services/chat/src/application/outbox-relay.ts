import type { OutboxStore, UsagePublisher } from "../domain/ports.ts";
import type { Clock } from "@tessera/platform";

export interface OutboxRelayOptions {
  stores: OutboxStore[];
  publisher: UsagePublisher;
  clock: Clock;
  intervalMs: number;
  /** How long a claimed event is left to this replica before another may send it. */
  leaseMs?: number;
  publishTimeoutMs?: number;
  onError?: (error: unknown) => void;
}

/**
 * Moves stored usage events to the bus: an event is marked sent only after the broker confirmed
 * it, so a broker or process outage delays events but never loses one (delivery is at least
 * once; consumers deduplicate by eventId).
 */
export function createOutboxRelay(options: OutboxRelayOptions) {
  const leaseMs = options.leaseMs ?? 30_000;
  const publishTimeoutMs = options.publishTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  const withTimeout = <T>(promise: Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      const timeout = setTimeout(() => reject(new Error("publish not confirmed in time")), publishTimeoutMs);
      promise.then(
        (value) => (clearTimeout(timeout), resolve(value)),
        (error: unknown) => (clearTimeout(timeout), reject(error)),
      );
    });

  /** Sends what is pending; resolves with how many events were sent. */
  const drain = async (): Promise<number> => {
    let sent = 0;
    for (const store of options.stores) {
      for (;;) {
        const batch = await store.claimPending(50, leaseMs, options.clock.now());
        // Published together (the broker confirms each); only confirmed ones are marked sent.
        const results = await Promise.allSettled(batch.map((record) => withTimeout(options.publisher.publish(record))));
        const confirmed = batch.filter((_record, index) => results[index]!.status === "fulfilled").map((record) => record.eventId);
        const refused = batch.filter((_record, index) => results[index]!.status === "rejected").map((record) => record.eventId);
        await store.markSent(confirmed, options.clock.now());
        sent += confirmed.length;
        if (refused.length > 0) {
          await store.releaseClaims(refused).catch(() => undefined);
          throw (results.find((result) => result.status === "rejected") as PromiseRejectedResult).reason;
        }
        if (batch.length < 50) break;
      }
    }
    return sent;
  };

  const run = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = drain()
      .then(() => undefined)
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          run();
        }
      });
  };

  return {
    drain,
    start(): void {
      stopped = false;
      timer = setInterval(run, options.intervalMs);
      timer.unref();
      run();
    },
    /** Something was just stored: send it now rather than at the next tick. */
    kick: run,
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}

export type OutboxRelay = ReturnType<typeof createOutboxRelay>;
