import { Router } from "express";
import type { User as UserMessage } from "@tessera/proto/tessera/identity/v1/identity";
import type { AdminClient } from "../adapters/admin-client.ts";
import { pageQuery } from "../http/pagination.ts";
import { withActiveAccount, type ActiveAccountDependencies } from "../http/request-context.ts";
import { nextCursor, operation } from "../http/contract.ts";
import { User, userJson } from "../http/user-json.ts";
import { parseBody, parseQuery, z } from "../http/validate.ts";

const listQuery = z.object({ q: z.string().max(200).optional(), status: z.enum(["active", "disabled", "silenced"]).optional(), role: z.enum(["user", "admin"]).optional(), ...pageQuery });
// Integers travel to the services as protobuf int32 / int64: out of range is the caller's mistake (400), not a 500.
const nullableMessages = z.int32().min(0).nullable().optional();
const nullableTokens = z.number().int().min(0).max(1_000_000_000_000).nullable().optional();
const patchBody = z
  .object({
    role: z.enum(["user", "admin"]).optional(),
    status: z.enum(["active", "disabled", "silenced"]).optional(),
    premiumUntil: z.iso.datetime({ offset: true }).nullable().optional(),
    trustLevel: z.number().int().min(0).max(4).optional(),
    maxMessagesPerDay: nullableMessages,
    maxTokensPerDay: nullableTokens,
    maxChats: z.number().int().min(0).max(100_000).optional(),
  })
  .strict();

/** A user as admins see it: the public shape plus the limit overrides (null = tenant default). */
const AdminUser = User.extend({
  maxMessagesPerDay: z.number().int().nullable().meta({ description: "Override; null = the tenant's default" }),
  maxTokensPerDay: z.number().int().nullable().meta({ description: "Override; null = the tenant's default" }),
  maxChats: z.number().int(),
  updatedAt: z.string().meta({ format: "date-time" }),
}).meta({ id: "AdminUser" });
const AdminUserPage = z.object({ items: z.array(AdminUser), nextCursor });

export const adminUserJson = (user: UserMessage): z.output<typeof AdminUser> => ({
  ...userJson(user),
  maxMessagesPerDay: user.maxMessagesPerDay ?? null,
  maxTokensPerDay: user.maxTokensPerDay ?? null,
  maxChats: user.maxChats,
  updatedAt: user.updatedAt,
});

export const adminUserOperations = [
  operation({ method: "get", path: "/api/v1/admin/users", auth: "account", summary: "Admins: users of this tenant, searched (`q` in email, username, name) and filtered", query: listQuery, responses: { 200: AdminUserPage }, errors: [400, 401, 403] }),
  operation({ method: "get", path: "/api/v1/admin/users/{id}", auth: "account", summary: "Admins: one user of this tenant", responses: { 200: AdminUser }, errors: [401, 403, 404] }),
  operation({
    method: "patch",
    path: "/api/v1/admin/users/{id}",
    auth: "account",
    summary: "Admins: change a user's role, status, premium, trust level or limits (null clears an override); audited",
    body: patchBody,
    responses: { 200: AdminUser },
    errors: [400, 401, 403, 404],
  }),
];

/** User administration, through the admin service (which authorizes and audits every change). */
export function adminUserRoutes(deps: ActiveAccountDependencies & { admin: AdminClient }): Router {
  const router = Router();

  router.get(
    "/",
    withActiveAccount(deps, async ({ request, context, accessToken }) => {
      const query = parseQuery(listQuery, request.query);
      const page = await deps.admin.listUsers(
        { query: query.q ?? "", status: query.status ?? "", role: query.role ?? "", page: { limit: query.limit, cursor: query.cursor ?? "" } },
        { accessToken, requestId: context.requestId },
      );
      return { body: { items: page.items.map(adminUserJson), nextCursor: page.nextCursor || null } satisfies z.output<typeof AdminUserPage> };
    }),
  );

  router.get(
    "/:id",
    withActiveAccount(deps, async ({ request, context, accessToken }) => ({
      body: adminUserJson(await deps.admin.getUser({ userId: String(request.params.id) }, { accessToken, requestId: context.requestId })),
    })),
  );

  router.patch(
    "/:id",
    withActiveAccount(deps, async ({ request, context, accessToken }) => {
      const body = parseBody(patchBody, request.body);
      const user = await deps.admin.updateUser(
        {
          userId: String(request.params.id),
          role: body.role,
          status: body.status,
          premiumUntil: body.premiumUntil ?? undefined,
          clearPremiumUntil: body.premiumUntil === null,
          trustLevel: body.trustLevel,
          maxMessagesPerDay: body.maxMessagesPerDay ?? undefined,
          clearMaxMessagesPerDay: body.maxMessagesPerDay === null,
          maxTokensPerDay: body.maxTokensPerDay ?? undefined,
          clearMaxTokensPerDay: body.maxTokensPerDay === null,
          maxChats: body.maxChats,
        },
        { accessToken, requestId: context.requestId },
      );
      return { body: adminUserJson(user) };
    }),
  );

  return router;
}
