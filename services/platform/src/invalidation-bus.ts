import type { Redis } from "ioredis";
import { createCache, type Cache } from "./cache.ts";
import type { Logger } from "./logger.ts";

/** What changed: each source publishes on its topic, and every cache of that topic drops the keys. */
export type InvalidationTopic = "apiKeys" | "users" | "sessions" | "tenants" | "tenantSettings" | "models";

export interface BusCacheOptions {
  ttlMs: number;
  maxEntries: number;
}

/**
 * Exact cache invalidation across processes over Redis pub/sub.
 *
 * Ordering (the race between an admin's 200 and the broadcast): a source publishes *before* it
 * answers and waits until its own subscription has received the message. Redis writes a message
 * to every subscriber in the same pass of its event loop, so by then it sits in every other
 * process's socket. Every cache read first lets the event loop take in what already arrived (one
 * `setImmediate`), so the request that follows the 200 cannot read a value the message dropped.
 * While the subscription is down, and until it is back (when every cache is cleared, since
 * messages may have been missed), entries live at most 1 s.
 */
export interface InvalidationBus {
  /** A cache kept exact by this bus's messages on `topic`. */
  cache<V>(topic: InvalidationTopic, options: BusCacheOptions): Cache<V>;
  /** Drops the keys here and in every process (all of the topic's entries when `keys` is empty). Resolves once Redis took the message. */
  publish(topic: InvalidationTopic, keys: string[]): Promise<void>;
  /** True while invalidations may be missed (caches then use ≤ 1 s TTLs). */
  readonly degraded: boolean;
  close(): Promise<void>;
}

// One wait per event-loop turn, shared by every lookup made in it (a request makes several: the
// caller's key or session, the user, the tenant's settings): each still waits until the sockets
// polled in this turn were read, at the cost of one setImmediate a turn instead of one a lookup.
let turn: Promise<void> | undefined;
const nextTurn = () =>
  (turn ??= new Promise<void>((resolve) =>
    setImmediate(() => {
      turn = undefined;
      resolve();
    }),
  ));

/** Subscribes to `${prefix}invalidations` on a duplicate of `redis` (which publishes). */
export function createInvalidationBus(options: {
  redis: Redis;
  keyPrefix: string;
  logger: Logger;
  degradedTtlMs?: number;
  /** How often the subscription is checked with PING (a silent connection counts as lost). */
  heartbeatMs?: number;
}): InvalidationBus {
  const channel = `${options.keyPrefix}invalidations`;
  const caches = new Map<InvalidationTopic, Set<Cache<unknown>>>();
  let degraded = true;
  let closed = false;
  let sequence = 0;
  const instance = Math.random().toString(36).slice(2);
  const echoes = new Map<string, () => void>();

  const drop = (topic: InvalidationTopic, keys: string[]) => {
    for (const cache of caches.get(topic) ?? []) {
      if (keys.length === 0) cache.clear();
      else for (const key of keys) cache.delete(key);
    }
  };
  const clearAll = () => {
    for (const set of caches.values()) for (const cache of set) cache.clear();
  };
  const setDegraded = (value: boolean, reason: string) => {
    if (value === degraded) return;
    degraded = value;
    if (value) options.logger.warn({ reason }, "cache invalidations lost; caches fall back to 1 s TTLs");
    else options.logger.info("cache invalidations flowing again");
  };

  const subscriber = options.redis.duplicate({ autoResubscribe: false, maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
  subscriber.on("error", (error: Error) => options.logger.debug({ err: error.message }, "invalidation subscriber connection error"));
  subscriber.on("close", () => setDegraded(true, "connection closed"));
  subscriber.on("message", (received: string, payload: string) => {
    if (received !== channel) return;
    try {
      const message = JSON.parse(payload) as { t: InvalidationTopic; k: string[]; i?: string };
      drop(message.t, Array.isArray(message.k) ? message.k : []);
      if (message.i) echoes.get(message.i)?.();
    } catch {
      options.logger.warn("unreadable cache invalidation ignored");
    }
  });
  const subscribe = async () => {
    try {
      await subscriber.subscribe(channel);
      // Whatever was published while we were away is unknown: start from nothing.
      clearAll();
      setDegraded(false, "subscribed");
    } catch (error) {
      setDegraded(true, (error as Error).message);
    }
  };
  subscriber.on("ready", () => void subscribe());
  subscriber.connect().catch(() => setDegraded(true, "cannot connect"));

  const heartbeat = setInterval(() => {
    if (degraded || closed) return;
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("heartbeat timeout")), 1_000).unref());
    Promise.race([subscriber.ping(), timeout]).catch((error: unknown) => {
      setDegraded(true, (error as Error).message);
      subscriber.disconnect(true);
    });
  }, options.heartbeatMs ?? 2_000);
  heartbeat.unref();

  return {
    cache<V>(topic: InvalidationTopic, cacheOptions: BusCacheOptions): Cache<V> {
      const inner = createCache<V>({
        name: topic,
        ...cacheOptions,
        ...(options.degradedTtlMs !== undefined ? { degradedTtlMs: options.degradedTtlMs } : {}),
        isDegraded: () => degraded,
      });
      const set = caches.get(topic) ?? new Set();
      set.add(inner as Cache<unknown>);
      caches.set(topic, set);
      return {
        ...inner,
        get size() {
          return inner.size;
        },
        // Take in invalidations already on the socket before trusting a hit.
        getOrLoad: async (key, load) => {
          await nextTurn();
          return inner.getOrLoad(key, load);
        },
      };
    },
    async publish(topic, keys) {
      drop(topic, keys);
      const id = `${instance}:${(sequence += 1)}`;
      let timer: NodeJS.Timeout | undefined;
      const echoed = degraded
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            echoes.set(id, resolve);
            // A lost echo must not hold the answer for long: the subscription is then degraded anyway.
            timer = setTimeout(resolve, 1_000);
          });
      try {
        await options.redis.publish(channel, JSON.stringify({ t: topic, k: keys, i: id }));
        await echoed;
      } catch (error) {
        // Redis is down for us, so it is for the subscribers too: they run on 1 s TTLs meanwhile.
        options.logger.warn({ err: (error as Error).message, topic }, "cache invalidation not published");
      } finally {
        clearTimeout(timer);
        echoes.delete(id);
      }
    },
    get degraded() {
      return degraded;
    },
    async close() {
      closed = true;
      clearInterval(heartbeat);
      await subscriber.quit().catch(() => subscriber.disconnect());
    },
  };
}
