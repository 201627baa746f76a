import { Router } from "express";
import type { BrowserAuth } from "../application/browser-auth.ts";
import type { BrowserSessionStore } from "../application/browser-session.ts";
import { commitBrowserSession, contextOf, type CookieSettings } from "../http/request-context.ts";
import { route } from "../http/problem.ts";
import { operation } from "../http/contract.ts";
import { UserEnvelope, userJson } from "../http/user-json.ts";
import { parseBody, z } from "../http/validate.ts";

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
const Provider = z.object({ id: z.string(), name: z.string(), type: z.string() });

export const authOperations = [
  operation({
    method: "get",
    path: "/api/v1/auth/csrf",
    auth: "none",
    summary: "CSRF token for state-changing requests (creates an anonymous browser session when needed)",
    description: "The token stays the same for the life of the browser session; clients may fetch it again after signing in, out or switching.",
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
  operation({ method: "get", path: "/api/v1/auth/providers", auth: "none", summary: "Sign-in providers enabled for this tenant", responses: { 200: z.array(Provider) } }),
];

export function authRoutes(deps: { auth: BrowserAuth; store: BrowserSessionStore; cookie: CookieSettings }): Router {
  const router = Router();

  router.get(
    "/csrf",
    route(async (_request, response) => {
      const context = contextOf(response);
      // A browser without a session gets an anonymous one, so the token has something to bind to.
      if (!context.cookie) await commitBrowserSession(response, deps, { keepEmpty: true });
      response.setHeader("Cache-Control", "no-store");
      response.json({ token: context.browser.csrfToken } satisfies z.output<typeof CsrfToken>);
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
      await commitBrowserSession(response, deps, { rotate: true });
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
        { tenantId: context.tenant.id, login: body.login, password: body.password, rememberMe: body.rememberMe ?? false },
        context.client,
      );
      await commitBrowserSession(response, deps, { rotate: true });
      response.json({ user: userJson(user) });
    }),
  );

  router.post(
    "/logout",
    route(async (_request, response) => {
      const context = contextOf(response);
      await deps.auth.logout(context.browser, context.tenant.id, context.client);
      await commitBrowserSession(response, deps, { keepEmpty: true });
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
        await commitBrowserSession(response, deps, { keepEmpty: true });
      }
      response.status(204).end();
    }),
  );

  // OAuth/OIDC providers are configured per tenant by a later capability; none is enabled yet.
  router.get("/providers", (_request, response) => {
    response.json([] satisfies z.output<typeof Provider>[]);
  });

  return router;
}
