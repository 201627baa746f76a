/** How a cache behaves; see createCache. */
export interface CacheOptions {
  /** For logs and metrics ("users", "apiKeys"…). */
  name: string;
  /** How long an entry is trusted while invalidations are being delivered. */
  ttlMs: number;
  /** At most this many entries; the least recently written ones go first. */
  maxEntries: number;
  /** The TTL while invalidations may be missed (the bus is down); at most 1 s. */
  degradedTtlMs?: number;
  /** True while invalidations may be missed: entries then live at most `degradedTtlMs`. */
  isDegraded?: () => boolean;
  now?: () => number;
}

/** A TTL- and size-bounded cache of one kind of value (never `undefined`; `null` is a value), invalidated exactly by key. */
export interface Cache<V> {
  readonly name: string;
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  /** The cached value, or `load()`'s (one load per key at a time; a load overtaken by an invalidation is not kept). */
  getOrLoad(key: string, load: () => Promise<V>): Promise<V>;
  delete(key: string): void;
  clear(): void;
  readonly size: number;
}

interface Entry<V> {
  value: V;
  storedAt: number;
}

/** The platform's one in-process cache (no I/O); the invalidation bus keeps it exact across processes. */
export function createCache<V>(options: CacheOptions): Cache<V> {
  const now = options.now ?? Date.now;
  const degradedTtlMs = Math.min(options.degradedTtlMs ?? 1_000, 1_000);
  const entries = new Map<string, Entry<V>>();
  const loading = new Map<string, Promise<V>>();
  // Bumped by every invalidation: a load that started before one may carry the old value.
  let generation = 0;
  const keyGeneration = new Map<string, number>();

  const ttl = () => (options.isDegraded?.() ? Math.min(options.ttlMs, degradedTtlMs) : options.ttlMs);

  const get = (key: string): V | undefined => {
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (now() - entry.storedAt >= ttl()) {
      entries.delete(key);
      return undefined;
    }
    return entry.value;
  };

  const set = (key: string, value: V) => {
    entries.delete(key);
    entries.set(key, { value, storedAt: now() });
    // Maps iterate in insertion order: the first keys are the oldest writes.
    while (entries.size > options.maxEntries) {
      const oldest = entries.keys().next().value as string;
      entries.delete(oldest);
    }
  };

  return {
    name: options.name,
    get,
    set,
    getOrLoad(key, load) {
      const hit = get(key);
      if (hit !== undefined) return Promise.resolve(hit);
      const pending = loading.get(key);
      if (pending) return pending;
      const startedAt = generation;
      const promise = load().then(
        (value) => {
          if (loading.get(key) === promise) loading.delete(key);
          // Keep the value only when no invalidation of this key (or of everything) came meanwhile.
          if ((keyGeneration.get(key) ?? 0) <= startedAt && (keyGeneration.get("") ?? 0) <= startedAt) set(key, value);
          return value;
        },
        (error: unknown) => {
          if (loading.get(key) === promise) loading.delete(key);
          throw error;
        },
      );
      loading.set(key, promise);
      return promise;
    },
    delete(key) {
      generation += 1;
      keyGeneration.set(key, generation);
      if (keyGeneration.size > options.maxEntries) {
        keyGeneration.clear();
        keyGeneration.set("", generation);
      }
      entries.delete(key);
      loading.delete(key);
    },
    clear() {
      generation += 1;
      keyGeneration.clear();
      keyGeneration.set("", generation);
      entries.clear();
      loading.clear();
    },
    get size() {
      return entries.size;
    },
  };
}
