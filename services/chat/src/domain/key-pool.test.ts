import { describe, expect, it } from "vitest";
import { KeyPool, failureOfStatus } from "./key-pool.ts";

const clockAt = (start: number) => {
  let now = start;
  return { now: () => new Date(now), advance: (ms: number) => (now += ms) };
};

describe("KeyPool", () => {
  it("spreads requests over healthy keys in turn", () => {
    const pool = new KeyPool(clockAt(0), { cooldownMs: 1_000, unauthorizedCooldownMs: 10_000 });
    const firsts = [0, 1, 2, 3, 4, 5].map(() => pool.order(["a", "b", "c"])[0]);
    expect(firsts).toEqual(["a", "b", "c", "a", "b", "c"]);
  });

  it("sets a failing key aside until its cool-down ends", () => {
    const clock = clockAt(0);
    const pool = new KeyPool(clock, { cooldownMs: 1_000, unauthorizedCooldownMs: 10_000 });
    pool.setAside("b", "server_error");
    pool.setAside("c", "unauthorized");
    expect(pool.order(["a", "b", "c"])).toEqual(["a"]);
    clock.advance(1_001);
    expect(pool.order(["a", "b", "c"]).sort()).toEqual(["a", "b"]);
    clock.advance(10_000);
    expect(pool.order(["a", "b", "c"]).sort()).toEqual(["a", "b", "c"]);
  });

  it("honours Retry-After for rate-limited keys", () => {
    const clock = clockAt(0);
    const pool = new KeyPool(clock, { cooldownMs: 1_000, unauthorizedCooldownMs: 10_000 });
    pool.setAside("a", "rate_limited", 5_000);
    clock.advance(2_000);
    expect(pool.isHealthy("a")).toBe(false);
    clock.advance(3_001);
    expect(pool.isHealthy("a")).toBe(true);
  });

  it("offers the key that recovers soonest when every key is set aside", () => {
    const pool = new KeyPool(clockAt(0), { cooldownMs: 1_000, unauthorizedCooldownMs: 10_000 });
    pool.setAside("a", "unauthorized");
    pool.setAside("b", "server_error");
    expect(pool.order(["a", "b"])).toEqual(["b"]);
  });

  it("blames the key for 401, 403, 429 and 5xx only", () => {
    expect([400, 401, 403, 404, 429, 500, 503].map(failureOfStatus)).toEqual([
      null,
      "unauthorized",
      "unauthorized",
      null,
      "rate_limited",
      "server_error",
      "server_error",
    ]);
  });
});
