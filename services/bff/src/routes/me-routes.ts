import { API_KEY_SCOPES, knownKeyScopes } from "@tessera/platform";
import { Router } from "express";
import type { ApiKey } from "@tessera/proto/tessera/identity/v1/identity";
import type { IdentityClient, SessionClient } from "../adapters/service-clients.ts";
import type { BrowserAuth } from "../application/browser-auth.ts";
import type { BrowserSessionStore } from "../application/browser-session.ts";
import { withActiveAccount, type ActiveAccountDependencies, type CookieSettings } from "../http/request-context.ts";
import { operation } from "../http/contract.ts";
import { User, UserEnvelope, userJson } from "../http/user-json.ts";
import { parseBody, z } from "../http/validate.ts";

const patchMeBody = z
  .object({ fullName: z.string().max(200).optional(), avatarUrl: z.string().max(2000).nullable().optional(), username: z.string().max(100).optional() })
  .strict();
const passwordBody = z.object({ currentPassword: z.string().max(1024).optional(), newPassword: z.string().max(1024) }).strict();
const Scope = z.enum(API_KEY_SCOPES).meta({ id: "ApiKeyScope", description: "inference: the OpenAI-compatible /v1 API; chats:read / chats:write: my chats and messages; usage:read: my quota and usage" });
const apiKeyBody = z
  .object({ name: z.string().max(100), scopes: z.array(Scope).max(API_KEY_SCOPES.length).optional().meta({ description: "What the key may do; default [\"inference\"]" }) })
  .strict();

const dateTime = z.string().meta({ format: "date-time" });
const Session = z.object({ id: z.string(), deviceInfo: z.string(), ip: z.string(), createdAt: dateTime, lastUsedAt: dateTime, current: z.boolean().meta({ description: "The session of this browser's active account" }) }).meta({ id: "Session" });
const ApiKeyInfo = z.object({ id: z.string(), name: z.string(), prefix: z.string(), scopes: z.array(Scope), createdAt: dateTime, lastUsedAt: dateTime.nullable() }).meta({ id: "ApiKey" });
const CreatedApiKey = z.object({ id: z.string(), name: z.string(), prefix: z.string(), scopes: z.array(Scope), createdAt: dateTime, key: z.string().meta({ description: "The secret, shown only in this response" }) });
const idPath = "{id}";
const LinkedIdentity = z
  .object({ provider: z.string(), email: z.string(), displayName: z.string(), avatarUrl: z.string().nullable(), linkedAt: dateTime })
  .meta({ id: "LinkedIdentity" });

const apiKeyJson = (key: ApiKey): z.output<typeof ApiKeyInfo> => ({ id: key.id, name: key.name, prefix: key.prefix, scopes: knownKeyScopes(key.scopes), createdAt: key.createdAt, lastUsedAt: key.lastUsedAt ?? null });

export const meOperations = [
  operation({ method: "get", path: "/api/v1/me", auth: "account", summary: "The active account", responses: { 200: User }, errors: [401] }),
  operation({ method: "patch", path: "/api/v1/me", auth: "account", summary: "Change my profile (`avatarUrl: null` removes the picture)", body: patchMeBody, responses: { 200: UserEnvelope }, errors: [400, 401, 403, 409] }),
  operation({
    method: "put",
    path: "/api/v1/me/password",
    auth: "account",
    summary: "Set or change my password; signs out every other session of mine",
    description: "`currentPassword` is required when a password is set. Wrong guesses count like sign-in attempts: 429 `password_change_throttled` past the limit.",
    body: passwordBody,
    responses: { 204: null },
    errors: [400, 401, 403, 429],
  }),
  operation({ method: "get", path: "/api/v1/me/sessions", auth: "account", summary: "My sessions on every device", responses: { 200: z.array(Session) }, errors: [401] }),
  operation({ method: "delete", path: `/api/v1/me/sessions/${idPath}`, auth: "account", summary: "Revoke one of my sessions", responses: { 204: null }, errors: [401, 403, 404] }),
  operation({ method: "get", path: "/api/v1/me/identities", auth: "browser", summary: "The sign-in providers linked to my account", description: "Not with a personal API key: managing ways to sign in needs the browser session.", responses: { 200: z.array(LinkedIdentity) }, errors: [401, 403] }),
  operation({
    method: "delete",
    path: "/api/v1/me/identities/{provider}",
    auth: "browser",
    summary: "Unlink a sign-in provider",
    description: "409 `last_sign_in_method` when it is the last way to sign in (no password and no other provider); 404 when it is not linked.",
    responses: { 204: null },
    errors: [401, 403, 404, 409],
  }),
  operation({ method: "get", path: "/api/v1/me/api-keys", auth: "account", summary: "My personal API keys (without their secrets)", responses: { 200: z.array(ApiKeyInfo) }, errors: [401] }),
  operation({
    method: "post",
    path: "/api/v1/me/api-keys",
    auth: "account",
    summary: "Create a personal API key; the secret is in this answer only",
    body: apiKeyBody,
    responses: { 201: CreatedApiKey },
    errors: [400, 401, 403, 409],
    links: { revoke: { operation: "delete /api/v1/me/api-keys/{id}", parameters: { id: "/id" } } },
  }),
  operation({ method: "delete", path: `/api/v1/me/api-keys/${idPath}`, auth: "account", summary: "Revoke one of my API keys", responses: { 204: null }, errors: [401, 403, 404] }),
];

export function meRoutes(deps: ActiveAccountDependencies & { auth: BrowserAuth; identity: IdentityClient; session: SessionClient; store: BrowserSessionStore; cookie: CookieSettings }): Router {
  const router = Router();

  router.get(
    "/",
    withActiveAccount(deps, async ({ context, accessToken }) => {
      const user = await deps.identity.getMe({}, { accessToken });
      deps.auth.rememberProfile(context.browser, user);
      return { body: userJson(user) satisfies z.output<typeof User> };
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
      return { body: { user: userJson(user) } satisfies z.output<typeof UserEnvelope> };
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
      const body: z.output<typeof Session>[] = items.map((item) => ({ id: item.id, deviceInfo: item.deviceInfo, ip: item.ip, createdAt: item.createdAt, lastUsedAt: item.lastUsedAt, current: item.current }));
      return { body };
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
    "/identities",
    withActiveAccount(deps, async ({ accessToken }) => ({
      body: (await deps.identity.listIdentities({}, { accessToken })).items.map(
        (identity): z.output<typeof LinkedIdentity> => ({ provider: identity.provider, email: identity.email, displayName: identity.displayName, avatarUrl: identity.avatarUrl || null, linkedAt: identity.linkedAt }),
      ),
    })),
  );

  router.delete(
    "/identities/:provider",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      await deps.identity.unlinkIdentity({ provider: String(request.params.provider) }, { accessToken });
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
      const created = await deps.identity.createApiKey({ name: body.name, scopes: body.scopes ?? [] }, { accessToken });
      const key = created.key!;
      const answer: z.output<typeof CreatedApiKey> = { id: key.id, name: key.name, prefix: key.prefix, scopes: knownKeyScopes(key.scopes), createdAt: key.createdAt, key: created.secret };
      return { status: 201, body: answer };
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
