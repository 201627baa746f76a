import { Router } from "express";
import type { Tenant } from "@tessera/proto/tessera/admin/v1/admin";
import type { AdminClient } from "../adapters/admin-client.ts";
import { pageQuery } from "../http/pagination.ts";
import { withActiveAccount, type ActiveAccountDependencies } from "../http/request-context.ts";
import { nextCursor, operation } from "../http/contract.ts";
import { parseBody, parseQuery, z } from "../http/validate.ts";
import { AuditPage, auditJson, auditQuery } from "./admin-routes.ts";

const dateTime = z.string().meta({ format: "date-time" });
const TenantJson = z
  .object({
    id: z.string(),
    slug: z.string(),
    name: z.string(),
    domains: z.array(z.string()),
    timeZone: z.string().meta({ description: "IANA time zone whose midnight starts a new quota day" }),
    minPasswordLength: z.number().int(),
    sharedUpstream: z.boolean().meta({ description: "The tenant may use the platform's shared upstream (DEFAULT_LLM_*)" }),
    createdAt: dateTime,
    updatedAt: dateTime,
  })
  .meta({ id: "Tenant" });
const TenantPage = z.object({ items: z.array(TenantJson), nextCursor });
const tenantJson = (tenant: Tenant): z.output<typeof TenantJson> => ({
  id: tenant.id,
  slug: tenant.slug,
  name: tenant.name,
  domains: tenant.domains,
  timeZone: tenant.timeZone,
  minPasswordLength: tenant.minPasswordLength,
  sharedUpstream: tenant.sharedUpstream,
  createdAt: tenant.createdAt,
  updatedAt: tenant.updatedAt,
});

const createBody = z
  .object({
    slug: z.string().max(50),
    name: z.string().max(100),
    domains: z.array(z.string().max(253)).max(20).default([]),
    timeZone: z.string().max(64).optional(),
    sharedUpstream: z.boolean().optional().meta({ description: "Grant the platform's shared upstream (default false)" }),
  })
  .strict();
const updateBody = z
  .object({
    name: z.string().max(100).optional(),
    domains: z.array(z.string().max(253)).max(20).optional(),
    timeZone: z.string().max(64).optional(),
    minPasswordLength: z.int32().optional().meta({ description: "8 to 64" }),
    sharedUpstream: z.boolean().optional(),
  })
  .strict();

const listQuery = z.object(pageQuery);

export const operatorOperations = [
  operation({ method: "get", path: "/api/v1/operator/tenants", auth: "account", summary: "Platform operators: every tenant", query: listQuery, responses: { 200: TenantPage }, errors: [400, 401, 403] }),
  operation({
    method: "post",
    path: "/api/v1/operator/tenants",
    auth: "account",
    summary: "Platform operators: create a tenant (audited)",
    body: createBody,
    responses: { 201: TenantJson },
    errors: [400, 401, 403, 409],
    links: {
      read: { operation: "get /api/v1/operator/tenants/{id}", parameters: { id: "/id" } },
      change: { operation: "patch /api/v1/operator/tenants/{id}", parameters: { id: "/id" } },
    },
  }),
  operation({ method: "get", path: "/api/v1/operator/tenants/{id}", auth: "account", summary: "Platform operators: one tenant", responses: { 200: TenantJson }, errors: [401, 403, 404] }),
  operation({
    method: "patch",
    path: "/api/v1/operator/tenants/{id}",
    auth: "account",
    summary: "Platform operators: change a tenant, its time zone and its shared-upstream grant (audited)",
    body: updateBody,
    responses: { 200: TenantJson },
    errors: [400, 401, 403, 404, 409],
  }),
  operation({
    method: "get",
    path: "/api/v1/operator/audit",
    auth: "account",
    summary: "Platform operators: the platform audit of tenant actions, newest first",
    query: auditQuery,
    responses: { 200: AuditPage },
    errors: [400, 401, 403],
  }),
];

/**
 * Tenant management for the platform operator, through the admin service (which authorizes and
 * audits). Personal API keys are refused there.
 */
export function operatorRoutes(deps: ActiveAccountDependencies & { admin: AdminClient }): Router {
  const router = Router();

  router.get(
    "/tenants",
    withActiveAccount(deps, async ({ request, context, accessToken }) => {
      const query = parseQuery(listQuery, request.query);
      const page = await deps.admin.listTenants({ limit: query.limit, cursor: query.cursor ?? "" }, { accessToken, requestId: context.requestId });
      return { body: { items: page.items.map(tenantJson), nextCursor: page.nextCursor || null } satisfies z.output<typeof TenantPage> };
    }),
  );

  router.post(
    "/tenants",
    withActiveAccount(deps, async ({ request, context, accessToken }) => {
      const body = parseBody(createBody, request.body);
      const tenant = await deps.admin.createTenant(
        { slug: body.slug, name: body.name, domains: body.domains, timeZone: body.timeZone, sharedUpstream: body.sharedUpstream },
        { accessToken, requestId: context.requestId },
      );
      return { status: 201, body: tenantJson(tenant) };
    }),
  );

  router.get(
    "/tenants/:id",
    withActiveAccount(deps, async ({ request, context, accessToken }) => ({
      body: tenantJson(await deps.admin.getTenant({ id: String(request.params.id) }, { accessToken, requestId: context.requestId })),
    })),
  );

  router.patch(
    "/tenants/:id",
    withActiveAccount(deps, async ({ request, context, accessToken }) => {
      const body = parseBody(updateBody, request.body);
      const tenant = await deps.admin.updateTenant(
        {
          id: String(request.params.id),
          name: body.name,
          setDomains: body.domains !== undefined,
          domains: body.domains ?? [],
          timeZone: body.timeZone,
          minPasswordLength: body.minPasswordLength,
          sharedUpstream: body.sharedUpstream,
        },
        { accessToken, requestId: context.requestId },
      );
      return { body: tenantJson(tenant) };
    }),
  );

  router.get(
    "/audit",
    withActiveAccount(deps, async ({ request, context, accessToken }) => {
      const query = parseQuery(auditQuery, request.query);
      const page = await deps.admin.listPlatformAudit(
        { limit: query.limit, cursor: query.cursor ?? "", actorId: query.actorId ?? "", action: query.action ?? "", targetId: query.targetId ?? "" },
        { accessToken, requestId: context.requestId },
      );
      return { body: { items: page.items.map(auditJson), nextCursor: page.nextCursor || null } satisfies z.output<typeof AuditPage> };
    }),
  );

  return router;
}
