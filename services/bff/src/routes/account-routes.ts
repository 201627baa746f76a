import { Router } from "express";
import type { BrowserAuth } from "../application/browser-auth.ts";
import type { BrowserSessionStore } from "../application/browser-session.ts";
import { commitBrowserSession, contextOf, type CookieSettings } from "../http/request-context.ts";
import { route } from "../http/problem.ts";
import { userJson } from "../http/user-json.ts";
import { parseBody, z } from "../http/validate.ts";

const switchBody = z.object({ userId: z.string().min(1).max(100) }).strict();

export function accountRoutes(deps: { auth: BrowserAuth; store: BrowserSessionStore; cookie: CookieSettings }): Router {
  const router = Router();

  router.get("/", (_request, response) => {
    const context = contextOf(response);
    response.json(deps.auth.listAccounts(context.browser, context.tenant.id));
  });

  router.post(
    "/switch",
    route(async (request, response) => {
      const body = parseBody(switchBody, request.body);
      const context = contextOf(response);
      let user;
      try {
        user = await deps.auth.switchAccount(context.browser, context.tenant.id, body.userId, context.client);
        deps.auth.rememberProfile(context.browser, user);
      } finally {
        await commitBrowserSession(response, deps, { keepEmpty: true });
      }
      response.json({ user: userJson(user) });
    }),
  );

  return router;
}
