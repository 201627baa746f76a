import type { UsageEventSink } from "../domain/ports.ts";
import type { UsageRecord } from "../domain/usage.ts";
import type { QuotaContext } from "./quota-context.ts";

/** How long a claimed reservation is left to the replica charging it before another may. */
const CLAIM_LEASE_MS = 30_000;
const CLAIM_BATCH = 200;

/** The event that charges an unsettled reservation: deterministic, so charging it twice is one usage. */
export const expiryEventId = (reservationId: string) => `reservation-expired:${reservationId}`;

/**
 * Charges reservations nobody settled or released before they expired (the sending process died
 * mid-answer) at their estimate, by publishing a usage event for each: the rollups learn of it
 * the same way as of any completion. The event carries the reservation id, so whichever of it and
 * a late event of the completion itself arrives first counts, and the other is a duplicate.
 * Until its event is counted the reservation keeps holding its message and estimate.
 */
export function chargeExpiredReservations(context: QuotaContext, sink: UsageEventSink) {
  return async (): Promise<number> => {
    let charged = 0;
    for (;;) {
      const now = context.ports.clock.now();
      const expired = await context.ports.counters.claimExpired(now, CLAIM_LEASE_MS, CLAIM_BATCH);
      const results = await Promise.allSettled(
        expired.map((reservation) => {
          const record: UsageRecord = {
            eventId: expiryEventId(reservation.reservationId),
            occurredAt: now,
            tenantId: reservation.tenantId,
            schemaVersion: 1,
            userId: reservation.userId,
            chatId: "",
            messageId: "",
            // Charged under the send's own model and source, as its completion would have been.
            model: reservation.model,
            promptTokens: 0,
            completionTokens: 0,
            totalTokens: reservation.estimatedTokens,
            source: reservation.source === "web" ? "web" : "api",
            outcome: "expired",
            reservationId: reservation.reservationId,
          };
          return sink.publish(record);
        }),
      );
      const failure = results.find((result) => result.status === "rejected");
      // Unconfirmed ones stay claimed until their lease ends, then are claimed again.
      if (failure) throw failure.reason;
      charged += expired.length;
      if (expired.length < CLAIM_BATCH) return charged;
    }
  };
}
