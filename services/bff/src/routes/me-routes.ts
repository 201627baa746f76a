import { Router } from "express";
import type { IdentityClient } from "../adapters/service-clients.ts";
import type { BrowserAuth } from "../application/browser-auth.ts";
import type { BrowserSessionStore } from "../application/browser-session.ts";
import { withActiveAccount, type CookieSettings } from "../http/request-context.ts";
import { userJson } from "../http/user-json.ts";

export function meRoutes(deps: { auth: BrowserAuth; identity: IdentityClient; store: BrowserSessionStore; cookie: CookieSettings }): Router {
  const router = Router();

  router.get(
    "/",
    withActiveAccount(deps, async ({ context, accessToken }) => {
      const user = await deps.identity.getMe({}, { accessToken });
      deps.auth.rememberProfile(context.browser, user);
      return { body: userJson(user) };
    }),
  );

  return router;
}
