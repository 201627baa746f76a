import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { Request, RequestHandler } from "express";
import { isInternalAddress } from "@tessera/platform";

/** The API answers data, never documents: nothing may load from or frame it. */
const API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The web app's Content-Security-Policy: scripts only from this origin plus the app shell's own
 * inline scripts, pinned by their SHA-256 (read from the build, so a changed script needs a new
 * build, not a new policy); no plugins, no framing, no foreign form targets. Styles allow inline
 * style attributes (Svelte sets them); images also from https: (avatars) and data:/blob:.
 */
export function appContentSecurityPolicy(indexFile: string): string {
  const hashes = new Set<string>();
  if (existsSync(indexFile)) {
    const html = readFileSync(indexFile, "utf8");
    for (const match of html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi)) {
      hashes.add(`'sha256-${createHash("sha256").update(match[1]!, "utf8").digest("base64")}'`);
    }
  }
  return [
    "default-src 'self'",
    `script-src 'self'${[...hashes].map((hash) => ` ${hash}`).join("")}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob: https:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "manifest-src 'self'",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Headers on every response: CSP (the app's or the API's), no sniffing, no referrer leaks, no framing, HSTS over HTTPS. */
export function securityHeaders(options: { publicBaseUrl: string; appPolicy: string }): RequestHandler {
  const https = new URL(options.publicBaseUrl).protocol === "https:";
  return (request, response, next) => {
    const api = request.path.startsWith("/api/") || request.path.startsWith("/v1/") || request.path === "/v1";
    response.setHeader("Content-Security-Policy", api ? API_POLICY : options.appPolicy);
    response.setHeader("X-Content-Type-Options", "nosniff");
    response.setHeader("Referrer-Policy", "strict-origin-when-cross-origin");
    response.setHeader("X-Frame-Options", "DENY");
    response.setHeader("Cross-Origin-Opener-Policy", "same-origin");
    if (https || request.secure) response.setHeader("Strict-Transport-Security", "max-age=63072000; includeSubDomains");
    next();
  };
}

/**
 * Whether a request comes from inside the installation (a probe, a sidecar): straight from an
 * internal address and not relayed by a proxy. Whatever a proxy relays counts as outside.
 */
export function isInternalCaller(request: Request): boolean {
  if (request.headers["x-forwarded-for"] !== undefined || request.headers.forwarded !== undefined) return false;
  const address = request.socket.remoteAddress;
  return address !== undefined && isInternalAddress(address);
}
