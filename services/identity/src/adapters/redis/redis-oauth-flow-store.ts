import { unavailable, type Redis } from "@tessera/platform";
import type { OAuthFlow } from "../../domain/oauth.ts";
import type { OAuthFlowStore } from "../../domain/ports.ts";

/** Authorization request state in Redis under its `state`, expiring by itself; GETDEL makes it single use. */
export function createRedisOAuthFlowStore(redis: Redis, prefix: string): OAuthFlowStore {
  const keyOf = (state: string) => `${prefix}oauth-flow:${state}`;
  return {
    async save(flow, ttlSeconds) {
      await redis.set(keyOf(flow.state), JSON.stringify(flow), "EX", ttlSeconds).catch((error: unknown) => {
        throw unavailable("Sign-in with a provider", error);
      });
    },
    async take(state) {
      const raw = await redis.getdel(keyOf(state)).catch((error: unknown) => {
        throw unavailable("Sign-in with a provider", error);
      });
      return raw ? (JSON.parse(raw) as OAuthFlow) : null;
    },
  };
}
