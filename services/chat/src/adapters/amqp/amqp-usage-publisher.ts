import { EVENTS_EXCHANGE, PROTOBUF_CONTENT_TYPE, USAGE_EVENT_SCHEMA_VERSION, USAGE_EVENT_TYPE, encodeUsageEvent, type AmqpConnection } from "@tessera/platform";
import type { UsagePublisher } from "../../domain/ports.ts";
import type { UsageRecord } from "../../domain/usage.ts";

/** Declares the events exchange on every (re)connect. */
export async function declareUsageTopology(amqp: AmqpConnection, exchange: string): Promise<void> {
  await amqp.addSetup(async (channel) => {
    await channel.assertExchange(exchange, "topic", { durable: true });
  });
}

/** The events exchange under an optional name prefix (the same rule as the consumers'). */
export const eventsExchange = (prefix: string) => `${prefix}${EVENTS_EXCHANGE}`;

export function toUsageEvent(record: UsageRecord) {
  return {
    eventId: record.eventId,
    occurredAt: record.occurredAt.toISOString(),
    tenantId: record.tenantId,
    schemaVersion: USAGE_EVENT_SCHEMA_VERSION,
    payload: {
      userId: record.userId,
      chatId: record.chatId,
      messageId: record.messageId,
      model: record.model,
      promptTokens: record.usage.promptTokens,
      completionTokens: record.usage.completionTokens,
      totalTokens: record.usage.totalTokens,
      source: record.source,
      outcome: record.outcome,
      reservationId: record.reservationId,
    },
  };
}

/** Publishes usage events persistently with the eventId as messageId; resolves on the broker's confirm. */
export function amqpUsagePublisher(amqp: AmqpConnection, exchange: string): UsagePublisher {
  return {
    publish: (record) =>
      amqp.publish(exchange, USAGE_EVENT_TYPE, encodeUsageEvent(toUsageEvent(record)), {
        persistent: true,
        messageId: record.eventId,
        type: USAGE_EVENT_TYPE,
        contentType: PROTOBUF_CONTENT_TYPE,
        timestamp: Math.floor(record.occurredAt.getTime() / 1000),
        appId: "chat",
      }),
  };
}
