import { createHash } from "node:crypto";
import type { Redis } from "@tessera/platform";
import { browserSessionTtlSeconds, type BrowserSession, type BrowserSessionStore } from "../application/browser-session.ts";

/** Browser sessions in Redis under a hash of the cookie, so a Redis dump holds no usable cookie. */
export function createRedisBrowserSessionStore(redis: Redis, prefix: string): BrowserSessionStore {
  const keyOf = (cookieValue: string) => `${prefix}bff:browser:${createHash("sha256").update(cookieValue).digest("base64url")}`;
  return {
    async load(cookieValue) {
      const raw = await redis.get(keyOf(cookieValue));
      return raw ? (JSON.parse(raw) as BrowserSession) : null;
    },
    async save(cookieValue, session) {
      await redis.set(keyOf(cookieValue), JSON.stringify(session), "EX", browserSessionTtlSeconds(session, Date.now()));
    },
    async delete(cookieValue) {
      await redis.del(keyOf(cookieValue));
    },
  };
}
