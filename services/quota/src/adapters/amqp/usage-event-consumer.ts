import type { ConfirmChannel, ConsumeMessage } from "amqplib";
import { context as otelContext, type Context } from "@opentelemetry/api";
import { AppError, EVENTS_EXCHANGE, USAGE_EVENT_TYPE, decodeUsageEvent, type AmqpConnection, type Logger } from "@tessera/platform";
import { invalidEvent, type UsageOutcome, type UsageRecord, type UsageSource } from "../../domain/usage.ts";
import { createAckWindow, type AckWindow } from "./ack-window.ts";

export interface UsageTopology {
  exchange: string;
  queue: string;
  retryQueue: string;
  deadLetterQueue: string;
}

/** Exchange and queue names; the prefix keeps installations (and test files) on one broker apart. */
export function usageTopology(prefix: string): UsageTopology {
  return {
    exchange: `${prefix}${EVENTS_EXCHANGE}`,
    queue: `${prefix}quota.usage`,
    retryQueue: `${prefix}quota.usage.retry`,
    deadLetterQueue: `${prefix}quota.usage.dead`,
  };
}

export interface UsageConsumerOptions {
  amqp: AmqpConnection;
  topology: UsageTopology;
  logger: Logger;
  /** Unacknowledged deliveries the broker may send ahead (bounds memory and in-flight work). */
  prefetch: number;
  /** Most deliveries counted together (one round trip to Redis, one rollup flush). */
  batchSize: number;
  /** How long a partial batch waits for more deliveries. */
  batchWaitMs: number;
  /** Delay of the retry queue before a failed event comes back. */
  retryDelayMs: number;
  /** Attempts for events failing for reasons other than an outage, before they are dead-lettered. */
  maxAttempts: number;
  /** Quorum-queue redelivery limit (crash loops: a consumer dying on the same event each time). */
  deliveryLimit: number;
  /**
   * Counts a batch in order: "applied" / "duplicate" / a 422 error per event, and `written`, which
   * resolves once what it counted is durable (rejects when that failed: count the batch again).
   * Rejects (nothing counted durably yet) on an outage.
   */
  handleBatch(records: UsageRecord[]): Promise<{ results: Array<"applied" | "duplicate" | AppError>; written: Promise<void> }>;
}

const ATTEMPT_HEADER = "x-quota-attempts";

interface Delivery {
  message: ConsumeMessage;
  context: Context;
}
const ERROR_HEADER = "x-quota-error";

/** Bytes and AMQP properties to a usage record; anything malformed is an invalid (poison) event. */
export function decodeUsageRecord(content: Buffer): UsageRecord {
  let event;
  try {
    event = decodeUsageEvent(content);
  } catch (error) {
    throw invalidEvent(`not a usage event: ${(error as Error).message}`);
  }
  const payload = event.payload!;
  return {
    eventId: event.eventId,
    occurredAt: new Date(event.occurredAt),
    tenantId: event.tenantId,
    schemaVersion: event.schemaVersion,
    userId: payload.userId,
    chatId: payload.chatId,
    messageId: payload.messageId,
    model: payload.model,
    promptTokens: payload.promptTokens,
    completionTokens: payload.completionTokens,
    totalTokens: payload.totalTokens,
    source: payload.source as UsageSource,
    outcome: payload.outcome as UsageOutcome,
    reservationId: payload.reservationId || null,
  };
}

/**
 * Declares the usage topology and consumes it. Topology (declared on every (re)connect):
 *   exchange (topic) --chat.completion.finished--> queue (quorum, single active consumer)
 *   queue --dead-letter--> dead-letter queue (rejected or past the delivery limit)
 *   failures are republished to the retry queue (quorum, TTL) which dead-letters back to the queue.
 * A delivery is acknowledged only after it is counted in Redis and the flush covering it is in
 * MongoDB; a crash before the ack means a redelivery the counters recognise by its usage key.
 */
export function createUsageEventConsumer(options: UsageConsumerOptions) {
  const { topology, logger } = options;
  const stats = { applied: 0, duplicates: 0, retried: 0, deadLettered: 0 };
  const inFlight = new Set<Promise<void>>();
  let active: { channel: ConfirmChannel; consumerTag: string } | undefined;
  let stopping = false;

  const quorum = { "x-queue-type": "quorum", "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish" };

  const sendTo = (channel: ConfirmChannel, queue: string, message: ConsumeMessage, headers: Record<string, unknown>) =>
    new Promise<void>((resolve, reject) => {
      channel.sendToQueue(
        queue,
        message.content,
        { ...message.properties, persistent: true, headers: { ...message.properties.headers, ...headers } },
        (error) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()),
      );
    });

  const settleFailure = async (channel: ConfirmChannel, acks: AckWindow, message: ConsumeMessage, error: unknown) => {
    const attempts = Number(message.properties.headers?.[ATTEMPT_HEADER] ?? 0);
    const appError = error instanceof AppError ? error : undefined;
    const reason = (error as Error)?.message ?? String(error);
    const messageId = message.properties.messageId;
    if (appError?.code === "invalid_event" || (!(appError?.status === 503) && attempts + 1 >= options.maxAttempts)) {
      await sendTo(channel, topology.deadLetterQueue, message, { [ERROR_HEADER]: reason.slice(0, 500), [ATTEMPT_HEADER]: attempts + 1 });
      stats.deadLettered += 1;
      logger.error({ messageId, reason, attempts: attempts + 1 }, "usage event dead-lettered");
    } else {
      // An outage (503) is retried for as long as it lasts; other failures count their attempts.
      await sendTo(channel, topology.retryQueue, message, { [ATTEMPT_HEADER]: appError?.status === 503 ? attempts : attempts + 1 });
      stats.retried += 1;
      logger.warn({ messageId, reason, attempts }, "usage event failed; retrying later");
    }
    acks.settle([message]);
  };

  const park = (channel: ConfirmChannel, acks: AckWindow, message: ConsumeMessage, error: unknown) =>
    settleFailure(channel, acks, message, error).catch((settleError: unknown) => {
      // Not parked: handed back to the queue after the retry delay (or redelivered anyway when
      // the channel is gone).
      logger.warn({ err: (settleError as Error).message, messageId: message.properties.messageId }, "could not park a failed usage event");
      setTimeout(() => {
        try {
          channel.nack(message, false, true);
          acks.forget(message);
        } catch {
          // channel closed
        }
      }, options.retryDelayMs).unref();
    });

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  const isOutage = (error: unknown) => error instanceof AppError && error.status === 503;

  /**
   * Counts a batch and acknowledges it once what it counted is durable. `counted` is called as
   * soon as the next batch may be counted (this one's write to the rollups overlaps it).
   * Undecodable events are dead-lettered at once; an outage keeps the batch in hand and tries again
   * after the retry delay for as long as it lasts (nothing acknowledged meanwhile); other failures
   * go to the retry queue.
   */
  const processBatch = async (channel: ConfirmChannel, acks: AckWindow, closed: () => boolean, batch: Delivery[], counted: () => void) => {
    let todo: Array<{ message: ConsumeMessage; record: UsageRecord }> = [];
    for (const { message } of batch) {
      try {
        todo.push({ message, record: decodeUsageRecord(message.content) });
      } catch (error) {
        await park(channel, acks, message, error);
      }
    }
    for (;;) {
      if (todo.length === 0 || closed() || stopping) return counted(); // the broker redelivers what was not acknowledged
      let outcome: Awaited<ReturnType<UsageConsumerOptions["handleBatch"]>>;
      try {
        outcome = await otelContext.with(batch[0]!.context, () => options.handleBatch(todo.map(({ record }) => record)));
      } catch (error) {
        if (isOutage(error)) {
          stats.retried += todo.length;
          logger.warn({ err: (error as Error).message, events: todo.length }, "usage events wait for a store to come back");
          await sleep(options.retryDelayMs);
          continue;
        }
        counted();
        for (const { message } of todo) await park(channel, acks, message, error);
        return;
      }
      counted();
      const kept: Array<{ message: ConsumeMessage; record: UsageRecord; result: "applied" | "duplicate" }> = [];
      for (const [index, result] of outcome.results.entries()) {
        const { message, record } = todo[index]!;
        if (result instanceof AppError) await park(channel, acks, message, result);
        else kept.push({ message, record, result });
      }
      try {
        await outcome.written;
      } catch (error) {
        if (isOutage(error)) {
          // Counted, not durable: counted again (as duplicates) once the store is back, then written.
          stats.retried += kept.length;
          logger.warn({ err: (error as Error).message, events: kept.length }, "usage events wait for a store to come back");
          await sleep(options.retryDelayMs);
          todo = kept;
          continue;
        }
        for (const { message } of kept) await park(channel, acks, message, error);
        return;
      }
      // One ack frame for the batch (and whatever before it is settled too), not one per delivery.
      const messages: ConsumeMessage[] = [];
      for (const { message, result } of kept) {
        if (result === "applied") stats.applied += 1;
        else stats.duplicates += 1;
        messages.push(message);
      }
      acks.settle(messages);
      return;
    }
  };

  const setup = async (channel: ConfirmChannel) => {
    await channel.assertExchange(topology.exchange, "topic", { durable: true });
    await channel.assertQueue(topology.deadLetterQueue, { durable: true, arguments: { "x-queue-type": "quorum" } });
    await channel.assertQueue(topology.queue, {
      durable: true,
      arguments: {
        ...quorum,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": topology.deadLetterQueue,
        "x-delivery-limit": options.deliveryLimit,
        // One consumer writes rollups at a time (FerretDB v1 has no safe concurrent updates of one document).
        "x-single-active-consumer": true,
      },
    });
    await channel.assertQueue(topology.retryQueue, {
      durable: true,
      arguments: { ...quorum, "x-message-ttl": options.retryDelayMs, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": topology.queue },
    });
    await channel.bindQueue(topology.queue, topology.exchange, USAGE_EVENT_TYPE);
    await channel.prefetch(options.prefetch);
    if (stopping) return;

    // One batch counted at a time: deliveries arriving meanwhile form the next one (so batches
    // grow with the load, up to batchSize), counted while the previous ones are being written.
    let buffer: Delivery[] = [];
    let timer: NodeJS.Timeout | undefined;
    let busy = false;
    let closed = false;
    channel.once("close", () => (closed = true));
    const acks = createAckWindow(channel);
    const next = () => {
      clearTimeout(timer);
      timer = undefined;
      if (busy || buffer.length === 0) return;
      const taken = buffer.length <= options.batchSize ? buffer : buffer.splice(0, options.batchSize);
      if (taken === buffer) buffer = [];
      busy = true;
      let released = false;
      const counted = () => {
        if (released) return;
        released = true;
        busy = false;
        schedule();
      };
      const work = processBatch(channel, acks, () => closed, taken, counted).finally(() => {
        inFlight.delete(work);
        counted();
      });
      inFlight.add(work);
    };
    const schedule = () => {
      if (busy || buffer.length === 0) return;
      if (buffer.length >= options.batchSize) next();
      else timer ??= setTimeout(next, options.batchWaitMs);
    };
    const { consumerTag } = await channel.consume(
      topology.queue,
      (message) => {
        if (!message) return; // cancelled by the broker (queue deleted); the reconnect loop re-declares
        acks.received(message);
        buffer.push({ message, context: otelContext.active() });
        schedule();
      },
      { noAck: false },
    );
    active = { channel, consumerTag };
  };

  return {
    stats,
    /** Declares the topology and starts consuming (again after every reconnect). */
    start: () => options.amqp.addSetup(setup),
    /** Stops taking deliveries and waits for the ones in hand to finish (graceful shutdown). */
    async stop(): Promise<void> {
      stopping = true;
      const current = active;
      active = undefined;
      if (current) await current.channel.cancel(current.consumerTag).catch(() => undefined);
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

export type UsageEventConsumer = ReturnType<typeof createUsageEventConsumer>;
