import { metrics } from "@opentelemetry/api";
import { AppError } from "./errors.ts";

/** A bound on work in flight in one process: admitted work holds a slot until it releases it. */
export interface AdmissionLimit {
  /** The bound. */
  readonly limit: number;
  /** Slots held now. */
  readonly inFlight: number;
  /** Takes a slot, or answers undefined at the bound. The release frees it once, however often it is called. */
  tryAcquire(): (() => void) | undefined;
}

/**
 * A counting bound of `limit` slots, with no queue: work over the bound is refused at once (that
 * is the point: an overload answered in microseconds instead of queued for seconds, in memory).
 * With a `name`, the slots in use and the refusals are OpenTelemetry metrics `<name>.in_flight`
 * and `<name>.refused`.
 */
export function createAdmissionLimit(limit: number, name?: string): AdmissionLimit {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`an admission limit must be a positive integer, not ${limit}`);
  let inFlight = 0;
  let refused: { add(value: number): void } | undefined;
  if (name) {
    const meter = metrics.getMeter("tessera-admission");
    meter
      .createObservableGauge(`${name}.in_flight`, { description: `Admitted and not yet finished (bound ${limit})` })
      .addCallback((result) => result.observe(inFlight));
    refused = meter.createCounter(`${name}.refused`, { description: "Refused at the bound (answered 503 with Retry-After)" });
  }
  return {
    limit,
    get inFlight() {
      return inFlight;
    },
    tryAcquire() {
      if (inFlight >= limit) {
        refused?.add(1);
        return undefined;
      }
      inFlight += 1;
      let held = true;
      return () => {
        if (!held) return;
        held = false;
        inFlight -= 1;
      };
    },
  };
}

/**
 * The answer to work refused at a bound: 503 `overloaded` with Retry-After. 503, not 429: the
 * server is busy, not the caller over a limit of theirs (429 is the quota's answer, and OpenAI's
 * clients read it as the key's rate limit), and proxies and OpenAI's clients retry a 503 (on
 * another replica, or after Retry-After).
 */
export const overloaded = (retryAfterSeconds = 1) =>
  new AppError("overloaded", 503, "The server is busy with other requests; try again shortly.", { expose: true, retryAfterSeconds });
