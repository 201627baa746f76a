import { PROTOBUF_CONTENT_TYPE, USAGE_EVENT_TYPE, encodeUsageEvent, type AmqpConnection } from "@tessera/platform";
import type { UsageEventSink } from "../../domain/ports.ts";

/** Publishes quota's own usage events (charges of expired reservations) on the events exchange; resolves on the broker's confirm. */
export function amqpUsageEventSink(amqp: AmqpConnection, exchange: string): UsageEventSink {
  return {
    publish: (record) =>
      amqp.publish(
        exchange,
        USAGE_EVENT_TYPE,
        encodeUsageEvent({
          eventId: record.eventId,
          occurredAt: record.occurredAt.toISOString(),
          tenantId: record.tenantId,
          schemaVersion: record.schemaVersion,
          payload: {
            userId: record.userId,
            chatId: record.chatId,
            messageId: record.messageId,
            model: record.model,
            promptTokens: record.promptTokens,
            completionTokens: record.completionTokens,
            totalTokens: record.totalTokens,
            source: record.source,
            outcome: record.outcome,
            reservationId: record.reservationId ?? "",
          },
        }),
        {
          persistent: true,
          messageId: record.eventId,
          type: USAGE_EVENT_TYPE,
          contentType: PROTOBUF_CONTENT_TYPE,
          timestamp: Math.floor(record.occurredAt.getTime() / 1000),
          appId: "quota",
        },
      ),
  };
}
