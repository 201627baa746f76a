import { createHash } from "node:crypto";
import { unavailable, type Redis } from "@tessera/platform";
import { browserSessionTtlSeconds, type BrowserSession, type BrowserSessionStore } from "../application/browser-session.ts";

/** Browser sessions in Redis under a hash of the cookie, so a Redis dump holds no usable cookie. */
export function createRedisBrowserSessionStore(redis: Redis, prefix: string): BrowserSessionStore {
  const keyOf = (cookieValue: string) => `${prefix}bff:browser:${createHash("sha256").update(cookieValue).digest("base64url")}`;
  // Redis down means "try again shortly" (503), never "signed out" and never a 500.
  const reachable = async <T>(operation: () => Promise<T>): Promise<T> => {
    try {
      return await operation();
    } catch (error) {
      throw unavailable("The session store", error);
    }
  };
  return {
    load: (cookieValue) =>
      reachable(async () => {
        const raw = await redis.get(keyOf(cookieValue));
        return raw ? (JSON.parse(raw) as BrowserSession) : null;
      }),
    save: (cookieValue, session) =>
      reachable(async () => void (await redis.set(keyOf(cookieValue), JSON.stringify(session), "EX", browserSessionTtlSeconds(session, Date.now())))),
    delete: (cookieValue) => reachable(async () => void (await redis.del(keyOf(cookieValue)))),
  };
}
