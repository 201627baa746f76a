import { Router } from "express";
import type { BrowserAuth } from "../application/browser-auth.ts";
import type { BrowserSessionStore } from "../application/browser-session.ts";
import { commitBrowserSession, contextOf, type CookieSettings } from "../http/request-context.ts";
import { route } from "../http/problem.ts";
import { operation } from "../http/contract.ts";
import { UserEnvelope, userJson } from "../http/user-json.ts";
import { parseBody, z } from "../http/validate.ts";

const switchBody = z.object({ userId: z.string().min(1).max(100) }).strict();

const Account = z
  .object({ userId: z.string(), email: z.string(), username: z.string(), displayName: z.string(), avatarUrl: z.string().meta({ description: "Empty when none" }), active: z.boolean() })
  .meta({ id: "Account" });

export const accountOperations = [
  operation({
    method: "get",
    path: "/api/v1/accounts",
    auth: "none",
    summary: "Accounts signed in in this browser (up to 5)",
    description: "Reads the session cookie when there is one; without one (or with one that is no longer valid) the list is empty, never 401.",
    responses: { 200: z.array(Account) },
  }),
  operation({
    method: "post",
    path: "/api/v1/accounts/switch",
    auth: "browser",
    summary: "Make another account signed in in this browser the active one, without credentials",
    body: switchBody,
    responses: { 200: UserEnvelope },
    errors: [400, 403, 404],
  }),
];

export function accountRoutes(deps: { auth: BrowserAuth; store: BrowserSessionStore; cookie: CookieSettings }): Router {
  const router = Router();

  router.get("/", (_request, response) => {
    const context = contextOf(response);
    response.json(deps.auth.listAccounts(context.browser, context.tenant.id) satisfies z.output<typeof Account>[]);
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
        await commitBrowserSession(response, deps);
      }
      response.json({ user: userJson(user) });
    }),
  );

  return router;
}
