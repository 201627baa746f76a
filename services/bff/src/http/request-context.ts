import { randomUUID } from "node:crypto";
import type { Request, RequestHandler, Response } from "express";
import { parse as parseCookies, serialize as serializeCookie } from "cookie";
import { API_KEY_PREFIX, API_KEY_SCOPES, forbidden, type ApiKeyScope, randomSecret, toAppError, unauthenticated, type AccessClaims } from "@tessera/platform";
import type { Tenant } from "@tessera/proto/tessera/identity/v1/identity";
import type { IdentityClient } from "../adapters/service-clients.ts";
import type { BrowserSession, BrowserSessionStore } from "../application/browser-session.ts";
import { browserSessionTtlSeconds } from "../application/browser-session.ts";
import type { ClientInfo } from "../application/browser-auth.ts";
import { route } from "./problem.ts";
import type { CsrfTokens } from "./csrf-token.ts";

export interface RequestContext {
  tenant: Tenant;
  /** This request's id (the client's X-Request-Id when it is a sane one), echoed in the response and kept in audit entries. */
  requestId: string;
  client: ClientInfo;
  /** The cookie value naming this browser's session, when it has one. */
  cookie: string | undefined;
  browser: BrowserSession;
}

export const contextOf = (response: Response): RequestContext => response.locals.context as RequestContext;

export interface CookieSettings {
  name: string;
  secure: boolean;
}

/** `__Host-` and Secure when served over HTTPS (the prefix forbids Domain and requires Path=/). */
export function cookieSettingsFor(publicBaseUrl: string): CookieSettings {
  const secure = new URL(publicBaseUrl).protocol === "https:";
  return { name: secure ? "__Host-tessera_session" : "tessera_session", secure };
}

const DEVICE_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const DEVICE_COOKIE_MAX_AGE = 180 * 24 * 3600;

/**
 * This browser's device id (OWASP "device cookie"): random and opaque, kept for half a year. The
 * identity service remembers which accounts signed in from it, so a stranger who trips an
 * account's sign-in limit does not lock out a browser its owner used before. Sets the cookie when
 * the browser has none yet.
 */
export function deviceIdOf(request: Request, response: Response, cookie: CookieSettings): string {
  const name = cookie.name.replace("tessera_session", "tessera_device");
  const present = parseCookies(request.headers.cookie ?? "")[name];
  if (present && DEVICE_ID_PATTERN.test(present)) return present;
  const deviceId = randomSecret(32);
  response.append("Set-Cookie", serializeCookie(name, deviceId, { httpOnly: true, secure: cookie.secure, sameSite: "lax", path: "/", maxAge: DEVICE_COOKIE_MAX_AGE }));
  return deviceId;
}

const emptyBrowserSession = (): BrowserSession => ({ activeUserId: null, accounts: [] });

/** Resolves the tenant from Host (cached briefly) and loads the browser session behind the cookie. */
export function requestContextMiddleware(deps: { identity: IdentityClient; store: BrowserSessionStore; cookie: CookieSettings }): RequestHandler {
  const tenants = new Map<string, { tenant: Tenant; at: number }>();
  return route(async (request, response, next) => {
    const host = request.hostname || "";
    let cached = tenants.get(host);
    if (!cached || Date.now() - cached.at > 30_000) {
      cached = { tenant: await deps.identity.resolveTenant({ host }), at: Date.now() };
      if (tenants.size > 10_000) tenants.clear();
      tenants.set(host, cached);
    }
    // A request with a bearer credential is an API client's: the cookie is not consulted at all.
    const cookie = bearerCredential(request) ? undefined : parseCookies(request.headers.cookie ?? "")[deps.cookie.name];
    const stored = cookie ? await deps.store.load(cookie) : null;
    const incoming = request.get("x-request-id") ?? "";
    const requestId = /^[A-Za-z0-9._:-]{8,64}$/.test(incoming) ? incoming : randomUUID();
    response.setHeader("X-Request-Id", requestId);
    const context: RequestContext = {
      tenant: cached.tenant,
      requestId,
      client: { ip: request.ip ?? "", userAgent: String(request.headers["user-agent"] ?? "").slice(0, 300) },
      cookie: stored ? cookie : undefined,
      browser: stored ?? emptyBrowserSession(),
    };
    response.locals.context = context;
    next();
  });
}

/**
 * Persists the browser session and (re)sets the cookie. `rotate` issues a new cookie value (after
 * signing in, against session fixation). A browser with no account signed in keeps nothing on the
 * server (its CSRF token is stateless): an empty session is deleted with its cookie.
 */
export async function commitBrowserSession(response: Response, deps: { store: BrowserSessionStore; cookie: CookieSettings }, options: { rotate?: boolean } = {}): Promise<void> {
  const context = contextOf(response);
  const { browser } = context;
  const base = { httpOnly: true, secure: deps.cookie.secure, sameSite: "lax" as const, path: "/" };
  if (browser.accounts.length === 0) {
    if (context.cookie) await deps.store.delete(context.cookie);
    if (context.cookie) response.append("Set-Cookie", serializeCookie(deps.cookie.name, "", { ...base, maxAge: 0 }));
    context.cookie = undefined;
    return;
  }
  if (options.rotate || !context.cookie) {
    if (context.cookie) await deps.store.delete(context.cookie);
    context.cookie = randomSecret(32);
  }
  await deps.store.save(context.cookie, browser);
  // A persistent cookie only when some account asked to be remembered.
  const persistent = browser.accounts.some((account) => account.rememberMe);
  response.append(
    "Set-Cookie",
    serializeCookie(deps.cookie.name, context.cookie, persistent ? { ...base, maxAge: browserSessionTtlSeconds(browser, Date.now()) } : base),
  );
}

/** The origin the browser must send: the public base URL's when the host matches it, else the request's own. */
function expectedOrigin(request: Request, publicBaseUrl: URL): string {
  if (request.hostname === publicBaseUrl.hostname) return publicBaseUrl.origin;
  return `${request.protocol}://${request.get("host")}`;
}

/** The credential of an `Authorization: Bearer …` header, if any. */
export function bearerCredential(request: Request): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(request.get("authorization") ?? "")?.[1];
}

/**
 * A personal API key presented on /api/v1 (API.md: "API-key requests use Authorization: Bearer
 * <key> and need no cookie"), checked to belong to the Host's tenant.
 */
export async function verifiedApiKey(
  request: Request,
  context: RequestContext,
  verifyApiKey: (key: string) => Promise<AccessClaims>,
  acceptedScopes: readonly ApiKeyScope[] | null,
): Promise<string> {
  const key = bearerCredential(request);
  const invalid = () => unauthenticated("The API key is not valid.", "invalid_api_key");
  if (!key?.startsWith(API_KEY_PREFIX)) throw invalid();
  let claims: AccessClaims;
  try {
    claims = await verifyApiKey(key);
  } catch (error) {
    if (toAppError(error).status === 401 || toAppError(error).status === 404) throw invalid();
    throw error;
  }
  if (claims.tenantId !== context.tenant.id) throw invalid();
  if (acceptedScopes === null) throw forbidden("API keys cannot be used here; sign in instead.", "api_key_not_allowed");
  if (!acceptedScopes.some((scope) => claims.scopes?.includes(scope))) {
    throw forbidden(`This API key does not allow this; it needs the scope ${acceptedScopes.join(" or ")}.`, "insufficient_scope");
  }
  return key;
}

/**
 * The scopes any of which lets an API key use an /api/v1 endpoint, or null where keys are never
 * accepted (key management, password, sessions, accounts, admin and operator routes).
 */
export function apiKeyScopesFor(method: string, path: string): readonly ApiKeyScope[] | null {
  const route = path.split("?")[0]!.replace(/\/+$/, "");
  const reading = method === "GET" || method === "HEAD";
  if (/^\/api\/v1\/chats(\/|$)/.test(route)) return reading ? ["chats:read"] : ["chats:write"];
  if (route === "/api/v1/models" && reading) return ["inference", "chats:read", "chats:write"];
  if ((route === "/api/v1/quota" || route === "/api/v1/me/usage") && reading) return ["usage:read"];
  if (route === "/api/v1/me" && reading) return API_KEY_SCOPES;
  return null;
}

/**
 * State-changing browser requests need a same-origin Origin and the session's CSRF token. API
 * clients with a bearer credential are exempt: browsers cannot attach that header cross-site, and
 * such requests never use the cookie.
 */
export function csrfMiddleware(publicBaseUrl: string, csrf: CsrfTokens): RequestHandler {
  const base = new URL(publicBaseUrl);
  return (request, response, next) => {
    if (request.method === "GET" || request.method === "HEAD" || request.method === "OPTIONS") return next();
    if (bearerCredential(request)) return next();
    const origin = request.get("origin");
    if (!origin || origin !== expectedOrigin(request, base)) return next(forbidden("The request must come from this site (Origin header).", "csrf_failed"));
    const token = request.get("x-csrf-token");
    if (!token || !csrf.verify(request, token)) {
      return next(forbidden("Missing or invalid CSRF token; fetch one from GET /api/v1/auth/csrf.", "csrf_failed"));
    }
    next();
  };
}

export interface UserHandlerInput {
  request: Request;
  context: RequestContext;
  /** The active account's access token (refreshed when it was about to expire). */
  accessToken: string;
}

export interface HandlerResult {
  status?: number;
  /** JSON body; none means an empty response (204 by default). */
  body?: unknown;
}

/**
 * A route that acts for the browser's active account: gets a fresh access token, runs the
 * handler, persists any token refresh (or a dropped account) before the response is sent.
 */
/** What a route acting for the signed-in user (or an API key's owner) needs. */
export interface ActiveAccountDependencies {
  auth: { accessToken(browser: BrowserSession, tenantId: string, client: ClientInfo): Promise<string> };
  store: BrowserSessionStore;
  cookie: CookieSettings;
  verifyApiKey(key: string): Promise<AccessClaims>;
}

export function withActiveAccount(
  deps: ActiveAccountDependencies,
  handler: (input: UserHandlerInput) => Promise<HandlerResult>,
): RequestHandler {
  return route(async (request, response) => {
    const context = contextOf(response);
    if (bearerCredential(request)) {
      // An API client: the services check the key themselves, as they check access tokens.
      const accessToken = await verifiedApiKey(request, context, deps.verifyApiKey, apiKeyScopesFor(request.method, request.originalUrl));
      const result = await handler({ request, context, accessToken });
      if (result.body === undefined) response.status(result.status ?? 204).end();
      else response.status(result.status ?? 200).json(result.body);
      return;
    }
    const before = JSON.stringify(context.browser);
    const persist = async () => {
      if (context.cookie && JSON.stringify(context.browser) !== before) await commitBrowserSession(response, deps);
    };
    let result: HandlerResult;
    try {
      const accessToken = await deps.auth.accessToken(context.browser, context.tenant.id, context.client);
      result = await handler({ request, context, accessToken });
    } catch (error) {
      await persist();
      throw error;
    }
    await persist();
    if (result.body === undefined) response.status(result.status ?? 204).end();
    else response.status(result.status ?? 200).json(result.body);
  });
}
