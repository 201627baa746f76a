import { Router } from "express";
import type { Tenant } from "@tessera/proto/tessera/identity/v1/identity";
import type { IdentityClient } from "../adapters/service-clients.ts";
import type { BrowserAuth } from "../application/browser-auth.ts";
import type { BrowserSessionStore } from "../application/browser-session.ts";
import { pageQuery } from "../http/pagination.ts";
import { withActiveAccount, type ActiveAccountDependencies, type CookieSettings } from "../http/request-context.ts";
import { parseBody, parseQuery, z } from "../http/validate.ts";

const tenantJson = (tenant: Tenant) => ({
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

/** Tenant management for platform operators (users with the operator platform role). */
export function operatorRoutes(deps: ActiveAccountDependencies & { auth: BrowserAuth; identity: IdentityClient; store: BrowserSessionStore; cookie: CookieSettings }): Router {
  const router = Router();

  router.get(
    "/tenants",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      const query = parseQuery(z.object(pageQuery), request.query);
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
