// The platform cache kept exact across processes by Redis pub/sub, and its fallback to 1 s TTLs
// when the broadcast channel is lost (a TCP proxy in front of Redis is cut).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRedis, createInvalidationBus, createLogger, type InvalidationBus } from "@tessera/platform";
import { testInfrastructure } from "@tessera/platform/testing";
import { startTcpProxy } from "../../../tests/e2e/support/tcp-proxy.ts";

const infrastructure = testInfrastructure("bus");
const logger = createLogger("test", "silent");
const closers: Array<() => Promise<unknown>> = [];

const busAt = async (redisUrl: string): Promise<InvalidationBus> => {
  const redis = connectRedis(redisUrl, logger);
  const bus = createInvalidationBus({ redis: redis.redis, keyPrefix: infrastructure.redisKeyPrefix, logger, heartbeatMs: 200 });
  closers.push(async () => {
    await bus.close();
    await redis.close();
  });
  await until(() => !bus.degraded);
  return bus;
};

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not reached");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let source: InvalidationBus;
beforeAll(async () => {
  source = await busAt(infrastructure.redisUrl);
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

describe("invalidation bus", () => {
  it("drops a key in another process before publish() resolves, so the very next read reloads", async () => {
    const reader = await busAt(infrastructure.redisUrl);
    const users = reader.cache<string>("users", { ttlMs: 60_000, maxEntries: 100 });
    let status = "active";
    const load = async () => status;
    for (let round = 0; round < 20; round += 1) {
      expect(await users.getOrLoad("u1", load)).toBe(status);
      status = round % 2 === 0 ? "disabled" : "active";
      await source.publish("users", ["u1"]);
      expect(await users.getOrLoad("u1", load)).toBe(status);
    }
  });

  it("leaves other topics and keys alone, and an empty key list clears the topic", async () => {
    const reader = await busAt(infrastructure.redisUrl);
    const users = reader.cache<number>("users", { ttlMs: 60_000, maxEntries: 100 });
    const models = reader.cache<number>("models", { ttlMs: 60_000, maxEntries: 100 });
    users.set("a", 1);
    users.set("b", 2);
    models.set("a", 3);
    await source.publish("users", ["a"]);
    await new Promise((resolve) => setImmediate(resolve));
    expect([users.get("a"), users.get("b"), models.get("a")]).toEqual([undefined, 2, 3]);
    await source.publish("users", []);
    await new Promise((resolve) => setImmediate(resolve));
    expect([users.get("b"), models.get("a")]).toEqual([undefined, 3]);
  });

  it("falls back to 1 s TTLs while the channel is lost, and starts afresh when it is back", async () => {
    const redisUrl = new URL(infrastructure.redisUrl);
    const proxy = await startTcpProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
    closers.push(() => proxy.stop());
    const proxied = new URL(infrastructure.redisUrl);
    proxied.port = String(proxy.port);
    const reader = await busAt(proxied.toString());
    const keys = reader.cache<string>("apiKeys", { ttlMs: 60_000, maxEntries: 100 });
    let loads = 0;
    const load = async () => `v${(loads += 1)}`;

    expect(await keys.getOrLoad("k", load)).toBe("v1");
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await keys.getOrLoad("k", load)).toBe("v1");

    await proxy.stop();
    await until(() => reader.degraded);
    // A change published now never reaches the reader; it must not trust an entry past 1 s.
    await source.publish("apiKeys", ["k"]);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await keys.getOrLoad("k", load)).toBe("v2");

    await proxy.start();
    await until(() => !reader.degraded);
    expect(keys.size).toBe(0);
    expect(await keys.getOrLoad("k", load)).toBe("v3");
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await keys.getOrLoad("k", load)).toBe("v3");
  });
});
