import { describe, expect, it } from "vitest";
import { createCache } from "./cache.ts";

const clock = () => {
  let now = 1_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

describe("createCache", () => {
  it("forgets entries after their TTL, and after 1 s while degraded", () => {
    const time = clock();
    let degraded = false;
    const cache = createCache<string>({ name: "t", ttlMs: 60_000, maxEntries: 10, now: time.now, isDegraded: () => degraded });
    cache.set("a", "1");
    time.advance(30_000);
    expect(cache.get("a")).toBe("1");
    cache.set("b", "2");
    degraded = true;
    time.advance(1_000);
    expect(cache.get("b")).toBeUndefined();
    time.advance(60_000);
    degraded = false;
    expect(cache.get("a")).toBeUndefined();
  });

  it("keeps at most maxEntries, dropping the oldest writes", () => {
    const cache = createCache<number>({ name: "t", ttlMs: 60_000, maxEntries: 2 });
    cache.set("a", 1);
    cache.set("b", 2);
    cache.set("c", 3);
    expect([cache.get("a"), cache.get("b"), cache.get("c"), cache.size]).toEqual([undefined, 2, 3, 2]);
  });

  it("loads a key once for concurrent readers and does not keep a load overtaken by an invalidation", async () => {
    const cache = createCache<string>({ name: "t", ttlMs: 60_000, maxEntries: 10 });
    let loads = 0;
    let release: (value: string) => void = () => undefined;
    const load = () => {
      loads += 1;
      return new Promise<string>((resolve) => (release = resolve));
    };
    const first = cache.getOrLoad("k", load);
    const second = cache.getOrLoad("k", load);
    cache.delete("k");
    release("stale");
    expect([await first, await second, loads]).toEqual(["stale", "stale", 1]);
    expect(cache.get("k")).toBeUndefined();
    expect(await cache.getOrLoad("k", async () => "fresh")).toBe("fresh");
    expect(cache.get("k")).toBe("fresh");
  });

  it("keeps null as a value (a user that does not exist)", async () => {
    const cache = createCache<string | null>({ name: "t", ttlMs: 60_000, maxEntries: 10 });
    let loads = 0;
    const load = async () => (loads += 1, null);
    await cache.getOrLoad("k", load);
    await cache.getOrLoad("k", load);
    expect(loads).toBe(1);
  });
});
