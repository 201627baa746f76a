import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import type { Request, Response } from "express";
import { parse as parseCookies, serialize as serializeCookie } from "cookie";
import { randomSecret } from "@tessera/platform";
import type { CookieSettings } from "./request-context.ts";

const NONCE_PATTERN = /^[A-Za-z0-9_-]{32}$/;
const COOKIE_MAX_AGE = 365 * 24 * 3600;

export interface CsrfTokens {
  /** This browser's token (setting its CSRF cookie when it has none yet); nothing is stored on the server. */
  issue(request: Request, response: Response): string;
  /** Whether the header token belongs to this browser's CSRF cookie. */
  verify(request: Request, token: string): boolean;
}

/**
 * Stateless CSRF tokens (OWASP's signed double-submit cookie): the browser keeps a random nonce
 * in an httpOnly cookie and sends `nonce.HMAC(nonce)` in X-CSRF-Token. A visitor who is not signed
 * in thus costs the server nothing (no Redis key per visitor), and a page on another site can
 * neither read the cookie nor forge the signature. The key is derived from `secret`.
 */
export function createCsrfTokens(secret: string, cookie: CookieSettings): CsrfTokens {
  const key = Buffer.from(hkdfSync("sha256", secret, "tessera", "bff csrf token v1", 32));
  const name = cookie.name.replace("tessera_session", "tessera_csrf");
  const sign = (nonce: string) => createHmac("sha256", key).update(nonce).digest("base64url");
  const nonceOf = (request: Request) => {
    const value = parseCookies(request.headers.cookie ?? "")[name];
    return value && NONCE_PATTERN.test(value) ? value : undefined;
  };
  return {
    issue(request, response) {
      let nonce = nonceOf(request);
      if (!nonce) {
        nonce = randomSecret(24);
        response.append("Set-Cookie", serializeCookie(name, nonce, { httpOnly: true, secure: cookie.secure, sameSite: "lax", path: "/", maxAge: COOKIE_MAX_AGE }));
      }
      return `${nonce}.${sign(nonce)}`;
    },
    verify(request, token) {
      const nonce = nonceOf(request);
      const [presented, signature] = token.split(".");
      if (!nonce || presented !== nonce || !signature) return false;
      const expected = Buffer.from(sign(nonce));
      const given = Buffer.from(signature);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
  };
}
