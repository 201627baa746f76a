import { Router, type Request, type Response } from "express";
import { parse as parseCookies, serialize as serializeCookie } from "cookie";
import { randomSecret, toAppError, validationFailed, type Logger } from "@tessera/platform";
import type { IdentityClient } from "../adapters/service-clients.ts";
import type { BrowserAuth } from "../application/browser-auth.ts";
import { changesBetween, type BrowserSessionStore } from "../application/browser-session.ts";
import { commitBrowserSession, contextOf, deviceIdOf, persistWhenChanged, type CookieSettings } from "../http/request-context.ts";
import { route } from "../http/problem.ts";
import type { CsrfTokens } from "../http/csrf-token.ts";
import { operation } from "../http/contract.ts";
import { UserEnvelope, userJson } from "../http/user-json.ts";
import { parseBody, parseQuery, z } from "../http/validate.ts";
import { safeReturnTo, withQueryParameter } from "../http/return-to.ts";

const registerBody = z
  .object({
    email: z.string().max(320),
    username: z.string().max(100),
    password: z.string().max(1024),
    fullName: z.string().max(200).optional(),
  })
  .strict();

const loginBody = z
  .object({
    login: z.string().min(1).max(320),
    password: z.string().min(1).max(1024),
    rememberMe: z.boolean().optional(),
  })
  .strict();

const CsrfToken = z.object({ token: z.string() });
const Provider = z.object({ id: z.enum(["google", "discord", "github", "oidc"]), name: z.string(), type: z.enum(["oidc", "oauth2"]) });
const authorizeQuery = z.object({
  intent: z.enum(["login", "link"]).default("login").meta({ description: "`login` signs in and adds the account to this browser (like a password sign-in); `link` links the provider to the active account" }),
  returnTo: z.string().max(2000).optional().meta({ description: "A path on this site (one leading `/`; no backslashes, whitespace or /api paths); default `/`" }),
});
const PROVIDER_ID = /^[a-z0-9-]{1,40}$/;
/** How long the browser binding of a provider sign-in lives: as long as the flow state it guards. */
const BINDING_MAX_AGE_SECONDS = 600;
const toProvider = { description: "To the provider. On failure, back to the app instead: `/login?oauthError=<code>` (intent login) or `returnTo?oauthError=<code>` (intent link)", content: {} };
const backToReturnTo = {
  description:
    "To `returnTo` (signed in, or linked). On failure, to `/login?oauthError=<code>` (intent login) or `returnTo?oauthError=<code>` (intent link). Codes: `oauth_state_invalid` (expired, used, tampered or another browser's), `oauth_denied`, `oauth_failed`, `oauth_provider_unavailable`, `oauth_provider_unknown`, `oauth_email_missing`, `oauth_email_unverified`, `oauth_account_exists` (same email, not verified or auto-linking off: sign in and link instead), `oauth_identity_taken` (linked to another user), `oauth_provider_already_linked`, `oauth_link_user_changed`, `unauthenticated`, `account_disabled`, `registration_closed`, `registration_throttled`, `login_throttled`, `too_many_accounts`",
  content: {},
};

export const authOperations = [
  operation({
    method: "get",
    path: "/api/v1/auth/csrf",
    auth: "none",
    summary: "CSRF token for state-changing requests (stateless: signed and bound to this browser's CSRF cookie, which it sets when missing)",
    description: "The token stays the same as long as the browser keeps its CSRF cookie, signed in or not; clients may fetch it again after signing in, out or switching.",
    responses: { 200: CsrfToken },
  }),
  operation({
    method: "post",
    path: "/api/v1/auth/register",
    auth: "browser",
    summary: "Register with a password; signs in (adds the account to this browser, up to 5) and makes it active",
    body: registerBody,
    responses: { 201: UserEnvelope },
    errors: [400, 403, 409, 429],
  }),
  operation({
    method: "post",
    path: "/api/v1/auth/login",
    auth: "browser",
    summary: "Sign in by email or username; adds the account to this browser and makes it active",
    description: "401 on bad credentials (the same whether or not the user exists); 429 with Retry-After when throttled.",
    body: loginBody,
    responses: { 200: UserEnvelope },
    errors: [400, 401, 403, 409, 429],
  }),
  operation({ method: "post", path: "/api/v1/auth/logout", auth: "browser", summary: "Sign out the active account of this browser only", responses: { 204: null }, errors: [403] }),
  operation({ method: "post", path: "/api/v1/auth/logout-all", auth: "browser", summary: "Revoke every session of the active user", responses: { 204: null }, errors: [401, 403] }),
  operation({ method: "get", path: "/api/v1/auth/providers", auth: "none", summary: "Sign-in providers enabled for this tenant", description: "`type` is `oidc` (OpenID Connect: discovery, ID token) or `oauth2` (OAuth 2 and the provider's user API).", responses: { 200: z.array(Provider) } }),
  operation({
    method: "get",
    path: "/api/v1/auth/oauth/{provider}/authorize",
    auth: "none",
    summary: "Start signing in (or linking) with a provider",
    description: "Authorization code with PKCE S256; state and nonce are kept server-side for 10 minutes, single use, bound to this browser by an httpOnly cookie. `intent=link` needs a signed-in browser. A `returnTo` that is not a path on this site is refused with 400. Each start counts against the per-IP sign-in throttle (given back when the flow completes); past it the browser goes back with `oauthError=login_throttled`.",
    query: authorizeQuery,
    responses: { 302: toProvider },
    errors: [400],
  }),
  operation({
    method: "get",
    path: "/api/v1/auth/oauth/{provider}/callback",
    auth: "none",
    summary: "The provider's redirect back (exactly PUBLIC_BASE_URL + this path)",
    description: "Checks the state, the browser binding, RFC 9207 `iss`, PKCE and the nonce; then signs in (adding the account to this browser), links, or creates the user. Provider tokens are never stored.",
    responses: { 302: backToReturnTo },
  }),
];

export function authRoutes(deps: { auth: BrowserAuth; store: BrowserSessionStore; cookie: CookieSettings; csrf: CsrfTokens; identity: IdentityClient; publicBaseUrl: string; logger: Logger }): Router {
  const router = Router();
  // A random value in an httpOnly cookie ties each provider flow to the browser that started it.
  const bindingCookie = deps.cookie.secure ? "__Host-tessera_oauth" : "tessera_oauth";
  const bindingOf = (request: Request) => {
    const value = parseCookies(request.headers.cookie ?? "")[bindingCookie];
    return value && /^[A-Za-z0-9_-]{43}$/.test(value) ? value : undefined;
  };
  // Redirect URIs come from the configured public origin only, never from the request.
  const redirectUriFor = (provider: string) => new URL(`/api/v1/auth/oauth/${provider}/callback`, deps.publicBaseUrl).href;
  /** Provider failures go back to the app as a code it translates, never as a page of JSON. */
  const backToApp = (response: Response, error: unknown, intent: unknown, returnTo: unknown) => {
    const appError = toAppError(error);
    if (appError.status >= 500 && appError.status !== 503) deps.logger.error({ err: appError.cause ?? appError }, "provider sign-in failed");
    const target = intent === "link" ? (safeReturnTo(returnTo) ?? "/") : "/login";
    response.redirect(302, withQueryParameter(target, "oauthError", appError.expose ? appError.code : "oauth_failed"));
  };
  /**
   * Stores a sign-in under a new cookie value. Refused (another sign-in of this browser took the
   * last place meanwhile, or the store is down), the session just opened is ended again.
   */
  const commitSignIn = async (response: Response) => {
    const context = contextOf(response);
    const added = changesBetween(context.loaded, context.browser).put;
    try {
      await commitBrowserSession(response, deps, { rotate: true });
    } catch (error) {
      await deps.auth.abandon(added, context.client);
      throw error;
    }
  };

  router.get(
    "/csrf",
    route(async (request, response) => {
      // Stateless: signed, bound to this browser's CSRF cookie; nothing is stored for a visitor.
      response.setHeader("Cache-Control", "no-store");
      response.json({ token: deps.csrf.issue(request, response) } satisfies z.output<typeof CsrfToken>);
    }),
  );

  router.post(
    "/register",
    route(async (request, response) => {
      const body = parseBody(registerBody, request.body);
      const context = contextOf(response);
      const user = await deps.auth.register(
        context.browser,
        { tenantId: context.tenant.id, email: body.email, username: body.username, password: body.password, fullName: body.fullName ?? "" },
        context.client,
      );
      await commitSignIn(response);
      response.status(201).json({ user: userJson(user) });
    }),
  );

  router.post(
    "/login",
    route(async (request, response) => {
      const body = parseBody(loginBody, request.body);
      const context = contextOf(response);
      const user = await deps.auth.login(
        context.browser,
        { tenantId: context.tenant.id, login: body.login, password: body.password, rememberMe: body.rememberMe ?? false, deviceId: deviceIdOf(request, response, deps.cookie) },
        context.client,
      );
      await commitSignIn(response);
      response.json({ user: userJson(user) });
    }),
  );

  router.post(
    "/logout",
    route(async (_request, response) => {
      const context = contextOf(response);
      await deps.auth.logout(context.browser, context.tenant.id, context.client);
      await commitBrowserSession(response, deps);
      response.status(204).end();
    }),
  );

  router.post(
    "/logout-all",
    route(async (_request, response) => {
      const context = contextOf(response);
      try {
        await deps.auth.logoutAll(context.browser, context.tenant.id, context.client);
      } finally {
        await commitBrowserSession(response, deps);
      }
      response.status(204).end();
    }),
  );

  router.get(
    "/providers",
    route(async (_request, response) => {
      const { items } = await deps.identity.listSignInProviders({ tenantId: contextOf(response).tenant.id });
      response.json(items.map((provider) => ({ id: provider.id, name: provider.name, type: provider.type })) as z.output<typeof Provider>[]);
    }),
  );

  router.get(
    "/oauth/:provider/authorize",
    route(async (request, response) => {
      const query = parseQuery(authorizeQuery, request.query);
      const returnTo = query.returnTo === undefined ? "/" : safeReturnTo(query.returnTo);
      if (!returnTo) throw validationFailed([{ field: "returnTo", message: "Use a path on this site, such as /settings." }]);
      const provider = String(request.params.provider);
      const context = contextOf(response);
      const persistIfChanged = persistWhenChanged(response, deps);
      try {
        if (!PROVIDER_ID.test(provider)) throw validationFailed([{ field: "provider", message: "Unknown provider." }]);
        const binding = bindingOf(request) ?? randomSecret(32);
        const accessToken = query.intent === "link" ? await deps.auth.accessToken(context.browser, context.tenant.id, context.client) : undefined;
        const { authorizationUrl } = await deps.identity.startOAuth(
          { tenantId: context.tenant.id, provider, intent: query.intent, returnTo, redirectUri: redirectUriFor(provider), browserBinding: binding, clientIp: context.client.ip },
          { accessToken },
        );
        await persistIfChanged();
        response.append("Set-Cookie", serializeCookie(bindingCookie, binding, { httpOnly: true, secure: deps.cookie.secure, sameSite: "lax", path: "/", maxAge: BINDING_MAX_AGE_SECONDS }));
        response.redirect(302, authorizationUrl);
      } catch (error) {
        await persistIfChanged();
        backToApp(response, error, query.intent, returnTo);
      }
    }),
  );

  router.get(
    "/oauth/:provider/callback",
    route(async (request, response) => {
      const context = contextOf(response);
      const persistIfChanged = persistWhenChanged(response, deps);
      const callbackQuery = request.originalUrl.includes("?") ? request.originalUrl.slice(request.originalUrl.indexOf("?") + 1) : "";
      try {
        const binding = bindingOf(request) ?? "";
        const completed = await deps.auth.completeProviderSignIn(
          context.browser,
          { tenantId: context.tenant.id, provider: String(request.params.provider), callbackQuery, browserBinding: binding },
          context.client,
        );
        // Signing in issues a new cookie value (against session fixation), as a password sign-in does.
        if (completed.intent === "login") await commitSignIn(response);
        else await persistIfChanged();
        response.redirect(302, safeReturnTo(completed.returnTo) ?? "/");
      } catch (error) {
        await persistIfChanged();
        const extensions = toAppError(error).extensions;
        backToApp(response, error, extensions?.intent, extensions?.returnTo);
      }
    }),
  );

  return router;
}
