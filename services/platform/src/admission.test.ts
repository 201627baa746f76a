import { describe, expect, it } from "vitest";
import { createAdmissionLimit, overloaded } from "./admission.ts";
import { toProblem } from "./errors.ts";

describe("createAdmissionLimit", () => {
  it("admits up to the bound, refuses beyond it, and admits again once a slot is released", () => {
    const limit = createAdmissionLimit(2);
    const first = limit.tryAcquire();
    const second = limit.tryAcquire();
    expect([first, second].every((release) => typeof release === "function")).toBe(true);
    expect(limit.tryAcquire()).toBeUndefined();
    expect(limit.inFlight).toBe(2);
    second!();
    expect(limit.inFlight).toBe(1);
    expect(limit.tryAcquire()).toBeTypeOf("function");
    expect(limit.tryAcquire()).toBeUndefined();
  });

  it("frees a slot once however often its release is called (a response's close and error paths may both release)", () => {
    const limit = createAdmissionLimit(2);
    const first = limit.tryAcquire()!;
    limit.tryAcquire();
    first();
    first();
    first();
    expect(limit.inFlight).toBe(1);
    expect(limit.tryAcquire()).toBeTypeOf("function");
    expect(limit.tryAcquire()).toBeUndefined();
  });

  it("returns to zero after many acquire/release rounds", () => {
    const limit = createAdmissionLimit(50);
    const held: Array<() => void> = [];
    for (let round = 0; round < 1_000; round += 1) {
      const release = limit.tryAcquire();
      if (release) held.push(release);
      if (round % 3 === 0) held.shift()?.();
    }
    expect(limit.inFlight).toBe(held.length);
    expect(held.length).toBeGreaterThan(40);
    for (const release of held) release();
    expect(limit.inFlight).toBe(0);
  });

  it("refuses a bound that is not a positive integer", () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => createAdmissionLimit(bad)).toThrow(RangeError);
  });
});

describe("overloaded", () => {
  it("is an exposed 503 problem with a Retry-After", () => {
    const error = overloaded(1);
    expect([error.status, error.code, error.retryAfterSeconds, error.expose]).toEqual([503, "overloaded", 1, true]);
    expect(toProblem(error)).toMatchObject({ status: 503, type: "https://tessera.dev/problems/overloaded", title: "Service Unavailable" });
  });
});
