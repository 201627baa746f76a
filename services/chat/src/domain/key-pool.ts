import type { Clock } from "@tessera/platform";

/** Why a key was set aside; each reason has its own cool-down. */
export type KeyFailure = "unauthorized" | "rate_limited" | "server_error" | "timeout" | "network";

export interface KeyPoolOptions {
  /** Cool-down after a 429 without Retry-After, a 5xx, a timeout or a network error. */
  cooldownMs: number;
  /** Cool-down after a 401/403: a revoked key rarely comes back soon. */
  unauthorizedCooldownMs: number;
}

/**
 * Health of the API keys of every provider (per process): requests go round-robin over healthy
 * keys; a failing key is set aside until its cool-down ends.
 */
export class KeyPool {
  private readonly asideUntil = new Map<string, number>();
  private cursor = 0;
  private readonly clock: Clock;
  private readonly options: KeyPoolOptions;

  constructor(clock: Clock, options: KeyPoolOptions) {
    this.clock = clock;
    this.options = options;
  }

  /**
   * The order in which to try the keys: healthy ones first, rotated so load spreads; when every
   * key is set aside, only the one that recovers soonest (one last try rather than none).
   */
  order(keyIds: string[]): string[] {
    if (keyIds.length === 0) return [];
    const now = this.clock.now().getTime();
    const start = this.cursor++ % keyIds.length;
    const rotated = [...keyIds.slice(start), ...keyIds.slice(0, start)];
    const healthy = rotated.filter((id) => (this.asideUntil.get(id) ?? 0) <= now);
    if (healthy.length > 0) return healthy;
    const soonest = [...rotated].sort((a, b) => (this.asideUntil.get(a) ?? 0) - (this.asideUntil.get(b) ?? 0))[0]!;
    return [soonest];
  }

  setAside(keyId: string, failure: KeyFailure, retryAfterMs?: number): void {
    const cooldown =
      failure === "unauthorized"
        ? this.options.unauthorizedCooldownMs
        : failure === "rate_limited" && retryAfterMs && retryAfterMs > 0
          ? Math.min(retryAfterMs, 10 * 60_000)
          : this.options.cooldownMs;
    this.asideUntil.set(keyId, this.clock.now().getTime() + cooldown);
  }

  /** A key that answered well is healthy again at once. */
  markHealthy(keyId: string): void {
    this.asideUntil.delete(keyId);
  }

  isHealthy(keyId: string): boolean {
    return (this.asideUntil.get(keyId) ?? 0) <= this.clock.now().getTime();
  }
}

/** What an upstream HTTP status says about the key that got it; null when the key is not to blame. */
export function failureOfStatus(status: number): KeyFailure | null {
  if (status === 401 || status === 403) return "unauthorized";
  if (status === 429) return "rate_limited";
  if (status >= 500) return "server_error";
  return null;
}
