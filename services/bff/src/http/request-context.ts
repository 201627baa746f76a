import { randomUUID } from "node:crypto";
import type { Request, RequestHandler, Response } from "express";
import { parse as parseCookies, serialize as serializeCookie } from "cookie";
import { ALL_SCOPES, forbidden, randomSecret, toAppError, type Caller, type Scope } from "@tessera/platform";
import type { Tenant } from "@tessera/proto/tessera/identity/v1/identity";
import type { BrowserSession, BrowserSessionStore } from "../application/browser-session.ts";
import { activeAccount, browserSessionTtlSeconds, changesBetween, emptyBrowserSession } from "../application/browser-session.ts";
import type { EdgeAuthentication } from "../application/edge-authentication.ts";
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
  /** This request's copy of the browser session; `commitBrowserSession` stores what it changed in it. */
  browser: BrowserSession;
  /** The state as loaded, to tell what this request changed. */
  loaded: BrowserSession;
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

/** Resolves the tenant from Host (the platform cache, exact on changes) and loads the browser session behind the cookie. */
export function requestContextMiddleware(deps: { tenantOf(host: string): Promise<Tenant>; store: BrowserSessionStore; cookie: CookieSettings }): RequestHandler {
  return route(async (request, response, next) => {
    const tenant = await deps.tenantOf(request.hostname || "");
    // A request with a bearer credential is an API client's: the cookie is not consulted at all.
    const cookie = bearerCredential(request) ? undefined : parseCookies(request.headers.cookie ?? "")[deps.cookie.name];
    const stored = cookie ? await deps.store.load(cookie) : null;
    const incoming = request.get("x-request-id") ?? "";
    const requestId = /^[A-Za-z0-9._:-]{8,64}$/.test(incoming) ? incoming : randomUUID();
    response.setHeader("X-Request-Id", requestId);
    const context: RequestContext = {
      tenant,
      requestId,
      client: { ip: request.ip ?? "", userAgent: String(request.headers["user-agent"] ?? "").slice(0, 300) },
      cookie: stored ? cookie : undefined,
      browser: stored ?? emptyBrowserSession(),
      loaded: stored ? structuredClone(stored) : emptyBrowserSession(),
    };
    response.locals.context = context;
    next();
  });
}

/**
 * Stores what this request changed in the browser session, field by field on the state of the
 * moment (never this request's whole copy: another request of the browser may have refreshed,
 * switched or signed out meanwhile), and (re)sets the cookie. `rotate` issues a new cookie value
 * (after signing in, against session fixation). A browser with no account signed in keeps nothing
 * on the server (its CSRF token is stateless): the request that removes the last account deletes
 * the state and the cookie.
 */
export async function commitBrowserSession(response: Response, deps: { store: BrowserSessionStore; cookie: CookieSettings }, options: { rotate?: boolean } = {}): Promise<void> {
  const context = contextOf(response);
  const base = { httpOnly: true, secure: deps.cookie.secure, sameSite: "lax" as const, path: "/" };
  const creating = Boolean(options.rotate) || !context.cookie;
  if (creating && context.browser.accounts.length === 0) return;
  const key = creating ? randomSecret(32) : context.cookie!;
  const loadedPersistent = context.loaded.accounts.some((account) => account.rememberMe);
  const result = await deps.store.apply(key, changesBetween(context.loaded, context.browser), {
    tenantId: context.tenant.id,
    create: creating,
    ...(creating && context.cookie ? { from: context.cookie } : {}),
  });
  // A sign-in moved the state to a new cookie value after this request loaded it: its changes
  // followed, but it neither sees the state of the new value nor sets the old one again.
  if (result?.moved) return;
  // Nothing stored any more: ended by another request of this browser, which cleared the cookie.
  context.browser = result ? { activeUserId: result.activeUserId, accounts: result.accounts, storeKey: result.storeKey } : emptyBrowserSession();
  context.loaded = structuredClone(context.browser);
  if (!result) {
    context.cookie = undefined;
    return;
  }
  if (result.accounts.length === 0) {
    response.append("Set-Cookie", serializeCookie(deps.cookie.name, "", { ...base, maxAge: 0 }));
    context.cookie = undefined;
    context.browser.storeKey = null;
    return;
  }
  context.cookie = key;
  // A persistent cookie only when some account asked to be remembered. A session cookie that stays
  // one is set only when new: a response that overtakes a sign-in's cannot put the replaced value back.
  const persistent = result.accounts.some((account) => account.rememberMe);
  if (!creating && !persistent && !loadedPersistent) return;
  response.append("Set-Cookie", serializeCookie(deps.cookie.name, key, persistent ? { ...base, maxAge: browserSessionTtlSeconds(result, Date.now()) } : base));
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
 * The scopes any of which lets an API key use an /api/v1 endpoint, or null where keys are never
 * accepted (key management, password, sessions, accounts, admin and operator routes).
 */
export function apiKeyScopesFor(method: string, path: string): readonly Scope[] | null {
  const route = path.split("?")[0]!.replace(/\/+$/, "");
  const reading = method === "GET" || method === "HEAD";
  if (/^\/api\/v1\/chats(\/|$)/.test(route)) return reading ? ["chats:read"] : ["chats:write"];
  if (route === "/api/v1/models" && reading) return ["inference", "chats:read", "chats:write"];
  if ((route === "/api/v1/quota" || route === "/api/v1/me/usage") && reading) return ["usage:read"];
  if (route === "/api/v1/me" && reading) return ALL_SCOPES;
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
  /** Who acts, verified at the edge (current role and status, scopes, session or key). */
  caller: Caller;
  /**
   * The token to forward to the services, which verify it locally: the active account's access
   * token (refreshed when about to expire or when the user's role changed), or an API key's caller token.
   */
  accessToken: string;
}

export interface HandlerResult {
  status?: number;
  /** JSON body; none means an empty response (204 by default). */
  body?: unknown;
}

/** What a route acting for the signed-in user (or an API key's owner) needs. */
export interface ActiveAccountDependencies {
  auth: {
    accessToken(browser: BrowserSession, tenantId: string, client: ClientInfo, outdated?: (accessToken: string) => boolean): Promise<string>;
    dropAccount(browser: BrowserSession, userId: string, tenantId: string): void;
  };
  edge: EdgeAuthentication;
  store: BrowserSessionStore;
  cookie: CookieSettings;
}

/**
 * The one authentication of a request that acts for a user: an API key as bearer, else the
 * browser's active account. An API key must carry one of the scopes the route accepts (by default
 * those `apiKeyScopesFor` names; null: keys are never accepted there). Changes to the browser
 * session (a refresh, an ended account dropped) are left in `context.browser` for the caller to persist.
 */
export async function authenticate(
  request: Request,
  context: RequestContext,
  deps: Pick<ActiveAccountDependencies, "auth" | "edge">,
  acceptedScopes: readonly Scope[] | null = apiKeyScopesFor(request.method, request.originalUrl),
): Promise<{ caller: Caller; accessToken: string }> {
  const bearer = bearerCredential(request);
  if (bearer) {
    const { caller, token } = await deps.edge.apiKey(bearer, context.tenant.id);
    if (acceptedScopes === null) throw forbidden("API keys cannot be used here; sign in instead.", "api_key_not_allowed");
    if (!acceptedScopes.some((scope) => caller.scopes.includes(scope))) {
      throw forbidden(`This API key does not allow this; it needs the scope ${acceptedScopes.join(" or ")}.`, "insufficient_scope");
    }
    return { caller, accessToken: token };
  }
  const { browser, tenant, client } = context;
  let accessToken = await deps.auth.accessToken(browser, tenant.id, client);
  const account = activeAccount(browser, tenant.id)!;
  let checked;
  try {
    checked = await deps.edge.session({ tenantId: account.tenantId, userId: account.userId, sessionId: account.sessionId, accessToken });
  } catch (error) {
    if (toAppError(error).status === 401) deps.auth.dropAccount(browser, account.userId, tenant.id);
    throw error;
  }
  // A promoted or demoted user: the services must see the new role on this very request.
  if (checked.roleChanged) accessToken = await deps.auth.accessToken(browser, tenant.id, client, (token) => deps.edge.signedWithRole(token) !== checked.caller.role);
  return { caller: checked.caller, accessToken };
}

/**
 * Notes the browser session as it is now; the function returned stores it (commitBrowserSession)
 * if the request changed it since: a refreshed token, a dropped account.
 */
export function persistWhenChanged(response: Response, deps: { store: BrowserSessionStore; cookie: CookieSettings }): () => Promise<void> {
  const context = contextOf(response);
  const before = JSON.stringify(context.browser);
  return async () => {
    if (context.cookie && JSON.stringify(context.browser) !== before) await commitBrowserSession(response, deps);
  };
}

/**
 * A route that acts for the active account (or an API key's owner): authenticates once, runs the
 * handler, persists any token refresh (or a dropped account) before the response is sent.
 * `scopes`: the API-key scopes the route accepts, when not the ones `apiKeyScopesFor` names.
 */
export function withActiveAccount(
  deps: ActiveAccountDependencies,
  handler: (input: UserHandlerInput) => Promise<HandlerResult>,
  options: { scopes?: readonly Scope[] | null } = {},
): RequestHandler {
  return route(async (request, response) => {
    const context = contextOf(response);
    const persist = persistWhenChanged(response, deps);
    let result: HandlerResult;
    try {
      const { caller, accessToken } = await authenticate(request, context, deps, options.scopes);
      result = await handler({ request, context, caller, accessToken });
    } catch (error) {
      await persist();
      throw error;
    }
    await persist();
    if (result.body === undefined) response.status(result.status ?? 204).end();
    else response.status(result.status ?? 200).json(result.body);
  });
}
