import { Router } from "express";
import type { Tenant } from "@tessera/proto/tessera/identity/v1/identity";
import type { IdentityClient } from "../adapters/service-clients.ts";
import type { BrowserAuth } from "../application/browser-auth.ts";
import type { BrowserSessionStore } from "../application/browser-session.ts";
import { pageQuery } from "../http/pagination.ts";
import { withActiveAccount, type ActiveAccountDependencies, type CookieSettings } from "../http/request-context.ts";
import { nextCursor, operation } from "../http/contract.ts";
import { parseBody, parseQuery, z } from "../http/validate.ts";

const dateTime = z.string().meta({ format: "date-time" });
const TenantJson = z
  .object({ id: z.string(), slug: z.string(), name: z.string(), domains: z.array(z.string()), timeZone: z.string(), minPasswordLength: z.number().int(), createdAt: dateTime, updatedAt: dateTime })
  .meta({ id: "Tenant" });
const TenantPage = z.object({ items: z.array(TenantJson), nextCursor });
const tenantJson = (tenant: Tenant): z.output<typeof TenantJson> => ({
  id: tenant.id,
  slug: tenant.slug,
  name: tenant.name,
  domains: tenant.domains,
  timeZone: tenant.timeZone,
  minPasswordLength: tenant.minPasswordLength,
  createdAt: tenant.createdAt,
  updatedAt: tenant.updatedAt,
});

const createBody = z
  .object({ slug: z.string().max(50), name: z.string().max(100), domains: z.array(z.string().max(253)).max(20).default([]), timeZone: z.string().max(64).optional() })
  .strict();
const updateBody = z
  .object({ name: z.string().max(100).optional(), domains: z.array(z.string().max(253)).max(20).optional(), timeZone: z.string().max(64).optional(), minPasswordLength: z.number().int().optional() })
  .strict();

const listQuery = z.object(pageQuery);

export const operatorOperations = [
  operation({ method: "get", path: "/api/v1/operator/tenants", auth: "account", summary: "Platform operators: every tenant", query: listQuery, responses: { 200: TenantPage }, errors: [400, 401, 403] }),
  operation({ method: "post", path: "/api/v1/operator/tenants", auth: "account", summary: "Platform operators: create a tenant", body: createBody, responses: { 201: TenantJson }, errors: [400, 401, 403, 409] }),
  operation({ method: "get", path: "/api/v1/operator/tenants/{id}", auth: "account", summary: "Platform operators: one tenant", responses: { 200: TenantJson }, errors: [401, 403, 404] }),
  operation({ method: "patch", path: "/api/v1/operator/tenants/{id}", auth: "account", summary: "Platform operators: change a tenant", body: updateBody, responses: { 200: TenantJson }, errors: [400, 401, 403, 404, 409] }),
];

/** Tenant management for platform operators (users with the operator platform role). */
export function operatorRoutes(deps: ActiveAccountDependencies & { auth: BrowserAuth; identity: IdentityClient; store: BrowserSessionStore; cookie: CookieSettings }): Router {
  const router = Router();

  router.get(
    "/tenants",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      const query = parseQuery(listQuery, request.query);
      const page = await deps.identity.listTenants({ limit: query.limit, cursor: query.cursor ?? "" }, { accessToken });
      return { body: { items: page.items.map(tenantJson), nextCursor: page.nextCursor || null } };
    }),
  );

  router.post(
    "/tenants",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      const body = parseBody(createBody, request.body);
      const tenant = await deps.identity.createTenant({ slug: body.slug, name: body.name, domains: body.domains, timeZone: body.timeZone ?? "" }, { accessToken });
      return { status: 201, body: tenantJson(tenant) };
    }),
  );

  router.get(
    "/tenants/:id",
    withActiveAccount(deps, async ({ request, accessToken }) => ({ body: tenantJson(await deps.identity.getTenant({ id: String(request.params.id) }, { accessToken })) })),
  );

  router.patch(
    "/tenants/:id",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      const body = parseBody(updateBody, request.body);
      const tenant = await deps.identity.updateTenant(
        { id: String(request.params.id), name: body.name, setDomains: body.domains !== undefined, domains: body.domains ?? [], timeZone: body.timeZone, minPasswordLength: body.minPasswordLength },
        { accessToken },
      );
      return { body: tenantJson(tenant) };
    }),
  );

  return router;
}
