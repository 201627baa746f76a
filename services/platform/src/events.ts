import { UsageEvent } from "@tessera/proto/tessera/events/v1/usage";

/** The topic exchange every domain event is published to (declared by publishers and consumers alike). */
export const EVENTS_EXCHANGE = "tessera.events";
/** Routing key (and AMQP `type`) of a finished completion's usage event. */
export const USAGE_EVENT_TYPE = "chat.completion.finished";
export const USAGE_EVENT_SCHEMA_VERSION = 1;
export const PROTOBUF_CONTENT_TYPE = "application/x-protobuf";

/** Usage events travel as protobuf (tessera.events.v1.UsageEvent); eventId is also the AMQP messageId. */
export function encodeUsageEvent(event: UsageEvent): Buffer {
  return Buffer.from(UsageEvent.encode(event).finish());
}

/** Decodes a usage event; throws on bytes that are not one (the consumer dead-letters those). */
export function decodeUsageEvent(content: Buffer): UsageEvent {
  const event = UsageEvent.decode(content);
  if (!event.eventId || !event.tenantId || !event.payload?.userId) throw new Error("not a usage event: eventId, tenantId and payload.userId are required");
  return event;
}

export type { UsageEvent };
