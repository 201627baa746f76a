import { Router } from "express";
import type { ApiKey } from "@tessera/proto/tessera/identity/v1/identity";
import type { IdentityClient, SessionClient } from "../adapters/service-clients.ts";
import type { BrowserAuth } from "../application/browser-auth.ts";
import type { BrowserSessionStore } from "../application/browser-session.ts";
import { withActiveAccount, type ActiveAccountDependencies, type CookieSettings } from "../http/request-context.ts";
import { userJson } from "../http/user-json.ts";
import { parseBody, z } from "../http/validate.ts";

const patchMeBody = z
  .object({ fullName: z.string().max(200).optional(), avatarUrl: z.string().max(2000).nullable().optional(), username: z.string().max(100).optional() })
  .strict();
const passwordBody = z.object({ currentPassword: z.string().max(1024).optional(), newPassword: z.string().max(1024) }).strict();
const apiKeyBody = z.object({ name: z.string().max(100) }).strict();

const apiKeyJson = (key: ApiKey) => ({ id: key.id, name: key.name, prefix: key.prefix, createdAt: key.createdAt, lastUsedAt: key.lastUsedAt ?? null });

export function meRoutes(deps: ActiveAccountDependencies & { auth: BrowserAuth; identity: IdentityClient; session: SessionClient; store: BrowserSessionStore; cookie: CookieSettings }): Router {
  const router = Router();

  router.get(
    "/",
    withActiveAccount(deps, async ({ context, accessToken }) => {
      const user = await deps.identity.getMe({}, { accessToken });
      deps.auth.rememberProfile(context.browser, user);
      return { body: userJson(user) };
    }),
  );

  router.patch(
    "/",
    withActiveAccount(deps, async ({ request, context, accessToken }) => {
      const body = parseBody(patchMeBody, request.body);
      const user = await deps.identity.updateMe(
        { fullName: body.fullName, avatarUrl: body.avatarUrl === null ? "" : body.avatarUrl, username: body.username },
        { accessToken },
      );
      deps.auth.rememberProfile(context.browser, user);
      return { body: { user: userJson(user) } };
    }),
  );

  router.put(
    "/password",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      const body = parseBody(passwordBody, request.body);
      await deps.identity.changePassword({ currentPassword: body.currentPassword, newPassword: body.newPassword }, { accessToken });
      // Whoever knew the old password is signed out everywhere else.
      await deps.session.revokeMyOtherSessions({}, { accessToken });
      return {};
    }),
  );

  router.get(
    "/sessions",
    withActiveAccount(deps, async ({ context, accessToken }) => {
      const active = context.browser.accounts.find((account) => account.userId === context.browser.activeUserId);
      const { items } = await deps.session.listMySessions({ currentSessionId: active?.sessionId ?? "" }, { accessToken });
      return { body: items.map((item) => ({ id: item.id, deviceInfo: item.deviceInfo, ip: item.ip, createdAt: item.createdAt, lastUsedAt: item.lastUsedAt, current: item.current })) };
    }),
  );

  router.delete(
    "/sessions/:id",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      await deps.session.revokeMySession({ sessionId: String(request.params.id) }, { accessToken });
      return {};
    }),
  );

  router.get(
    "/api-keys",
    withActiveAccount(deps, async ({ accessToken }) => ({ body: (await deps.identity.listApiKeys({}, { accessToken })).items.map(apiKeyJson) })),
  );

  router.post(
    "/api-keys",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      const body = parseBody(apiKeyBody, request.body);
      const created = await deps.identity.createApiKey({ name: body.name }, { accessToken });
      const key = created.key!;
      return { status: 201, body: { id: key.id, name: key.name, prefix: key.prefix, createdAt: key.createdAt, key: created.secret } };
    }),
  );

  router.delete(
    "/api-keys/:id",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      await deps.identity.revokeApiKey({ id: String(request.params.id) }, { accessToken });
      return {};
    }),
  );

  return router;
}
