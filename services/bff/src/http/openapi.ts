/**
 * The OpenAPI 3.1 document of the BFF (GET /api/v1/openapi.json), generated from the operations
 * the route files declare next to their handlers (see contract.ts). Nothing here describes a
 * route by hand except the probes and the document itself, which app.ts serves.
 */
import { accountOperations } from "../routes/account-routes.ts";
import { adminUserOperations } from "../routes/admin-user-routes.ts";
import { adminOperations } from "../routes/admin-routes.ts";
import { authOperations } from "../routes/auth-routes.ts";
import { chatOperations } from "../routes/chat-routes.ts";
import { meOperations } from "../routes/me-routes.ts";
import { openAiOperations } from "../routes/openai-routes.ts";
import { operatorOperations } from "../routes/operator-routes.ts";
import { quotaOperations } from "../routes/quota-routes.ts";
import { OpenAiError, operation, Problem, type Operation, type ResponseSpec } from "./contract.ts";
import { apiKeyScopesFor } from "./request-context.ts";
import { z } from "./validate.ts";

const Readiness = z.object({ status: z.enum(["ok", "unavailable", "shutting_down"]), checks: z.record(z.string(), z.enum(["up", "down"])) });

// Served in app.ts.
const appOperations = [
  operation({ method: "get", path: "/api/v1/openapi.json", auth: "none", summary: "This document", responses: { 200: z.record(z.string(), z.unknown()) } }),
  operation({
    method: "get",
    path: "/.well-known/jwks.json",
    auth: "none",
    summary: "Public keys that verify access tokens",
    responses: { 200: { description: "JSON Web Key Set", content: { "application/jwk-set+json": z.object({ keys: z.array(z.record(z.string(), z.unknown())) }) } } },
    errors: [503],
  }),
  operation({ method: "get", path: "/healthz", auth: "none", summary: "Process alive", responses: { 200: z.object({ status: z.literal("ok") }) } }),
  operation({
    method: "get",
    path: "/readyz",
    auth: "none",
    summary: "Dependencies reachable (each named in `checks`, for callers inside the installation only); 503 with the same shape when one is down or the process is shutting down",
    responses: { 200: Readiness, 503: Readiness },
  }),
];

/** Every operation of the public HTTP API. A new route file adds its list here. */
export const operations: readonly Operation[] = [
  ...authOperations,
  ...accountOperations,
  ...meOperations,
  ...adminUserOperations,
  ...adminOperations,
  ...operatorOperations,
  ...chatOperations,
  ...quotaOperations,
  ...openAiOperations,
  ...appOperations,
];

type Json = Record<string, unknown>;
const COMPONENTS = "#/components/schemas/";

/**
 * zod → JSON Schema (2020-12, which OpenAPI 3.1 uses). Named schemas (`.meta({ id })`) are
 * hoisted into `components.schemas` and referenced from there.
 */
function jsonSchema(schema: z.ZodType, io: "input" | "output", components: Record<string, Json>): Json {
  const generated = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as Json;
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== "object") return value;
    const out: Json = {};
    for (const [key, inner] of Object.entries(value)) {
      if (key === "$schema" || key === "$defs") continue;
      out[key] = key === "$ref" && typeof inner === "string" ? inner.replace("#/$defs/", COMPONENTS) : rewrite(inner);
    }
    return out;
  };
  const defs = (generated.$defs ?? {}) as Record<string, Json>;
  for (const [name, definition] of Object.entries(defs)) {
    const hoisted = rewrite(definition) as Json;
    // One name, one shape: a named schema whose input and output differ cannot be shared.
    if (components[name] && JSON.stringify(components[name]) !== JSON.stringify(hoisted)) throw new Error(`openapi: two different schemas are named ${name}`);
    components[name] = hoisted;
  }
  return rewrite(generated) as Json;
}

/** Answered by the BFF alone (a 503 here would be the readiness report, not a problem). */
const SELF_CONTAINED = new Set(["/healthz", "/readyz", "/api/v1/openapi.json"]);

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  204: "No content",
  302: "Redirect",
  400: "Invalid request",
  401: "Not signed in, or the credential is not valid",
  403: "Not allowed (or a missing CSRF token / foreign Origin)",
  404: "Not found",
  409: "Conflict",
  429: "Too many requests or over quota (see Retry-After)",
  503: "A dependency is unavailable",
};

/**
 * Who may call it. An `account` route takes an API key only where `apiKeyScopesFor` lets one in
 * (the bearer requirement lists the scopes, any one of which will do); elsewhere a key is refused
 * with 403, so only the browser session is declared.
 */
function security(spec: Operation): Json[] | undefined {
  const changes = spec.method !== "get";
  const browser = changes ? { sessionCookie: [], csrfToken: [] } : { sessionCookie: [] };
  switch (spec.auth) {
    case "none":
      return [];
    case "browser":
      return [browser];
    case "account": {
      const scopes = apiKeyScopesFor(spec.method.toUpperCase(), spec.path);
      return scopes ? [browser, { apiKey: [...scopes] }] : [browser];
    }
    case "apiKey":
      return [{ apiKey: ["inference"] }];
  }
}

/** The operationId of an operation: its method and path in camel case (`getApiV1ChatsById`). */
const operationIdOf = (method: string, path: string): string =>
  `${method}${path.replace(/\{(\w+)\}/g, "By-$1").replace(/[^A-Za-z0-9]+(.)?/g, (_match, next: string | undefined) => (next ?? "").toUpperCase())}`;

function linksObject(spec: Operation): Json | undefined {
  if (!spec.links) return undefined;
  const links: Json = {};
  for (const [name, link] of Object.entries(spec.links)) {
    const [method, path] = link.operation.split(" ") as [string, string];
    const parameters = Object.fromEntries(Object.entries(link.parameters).map(([parameter, pointer]) => [`path.${parameter}`, `$response.body#${pointer}`]));
    links[name] = { operationId: operationIdOf(method, path), parameters };
  }
  return links;
}

function responseObject(status: number, response: ResponseSpec, components: Record<string, Json>): Json {
  if (response === null) return { description: STATUS_TEXT[status] ?? "OK" };
  if (response instanceof z.ZodType) return { description: STATUS_TEXT[status] ?? "OK", content: { "application/json": { schema: jsonSchema(response, "output", components) } } };
  const content: Json = {};
  for (const [type, schema] of Object.entries(response.content)) content[type] = { schema: jsonSchema(schema, "output", components) };
  return { description: response.description, content };
}

function operationObject(spec: Operation, components: Record<string, Json>): Json {
  const parameters: Json[] = [...spec.path.matchAll(/\{(\w+)\}/g)].map((match) => ({ name: match[1], in: "path", required: true, schema: { type: "string", minLength: 1 } }));
  if (spec.query) {
    const query = jsonSchema(spec.query, "input", components) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, schema] of Object.entries(query.properties ?? {})) {
      parameters.push({ name, in: "query", required: query.required?.includes(name) ?? false, schema });
    }
  }
  const responses: Json = {};
  for (const [status, response] of Object.entries(spec.responses)) responses[status] = responseObject(Number(status), response as ResponseSpec, components);
  const links = linksObject(spec);
  const success = Object.keys(spec.responses)[0];
  if (links && success) (responses[success] as Json).links = links;
  const openAi = spec.path.startsWith("/v1/");
  // Any request can be malformed (a header Node's parser refuses, a NUL in the URL): 400 everywhere.
  // Where a credential is needed: 401 without one, 403 for a missing CSRF token or foreign Origin,
  // a key lacking the scope, or a key where keys are refused. Whatever asks Redis or a service
  // (the tenant of the Host, to begin with) answers 503 while that dependency is down or too slow.
  const implied = [400, ...(spec.auth === "none" ? [] : [401, 403]), ...(SELF_CONTAINED.has(spec.path) ? [] : [503])];
  for (const status of new Set([...implied, ...(spec.errors ?? [])])) {
    if (responses[String(status)]) continue;
    responses[String(status)] = openAi
      ? { description: STATUS_TEXT[status] ?? "Error", content: { "application/json": { schema: { $ref: `${COMPONENTS}OpenAiError` } } } }
      : { description: STATUS_TEXT[status] ?? "Error", content: { "application/problem+json": { schema: { $ref: `${COMPONENTS}Problem` } } } };
  }
  if (spec.admission) {
    const unavailable = responses["503"] as Json;
    unavailable.description = `${STATUS_TEXT[503]}, or this server has as many completions in flight as it admits (\`overloaded\`, retry after \`Retry-After\`)`;
    unavailable.headers = { "Retry-After": { description: "Seconds to wait before retrying (always sent with `overloaded`)", schema: { type: "integer", minimum: 1 } } };
  }
  const tag = spec.path.startsWith("/v1/") ? "openai" : (spec.path.split("/")[3] ?? "platform");
  return {
    operationId: operationIdOf(spec.method, spec.path),
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [tag.startsWith(".") || tag === "" ? "platform" : tag],
    security: security(spec),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(spec.body ? { requestBody: { required: !spec.bodyOptional, content: { "application/json": { schema: jsonSchema(spec.body, "input", components) } } } } : {}),
    responses,
  };
}

/** Builds the document from a list of operations (exported for the contract test). */
export function buildOpenApiDocument(list: readonly Operation[]): Json {
  const components: Record<string, Json> = {};
  jsonSchema(Problem, "output", components);
  jsonSchema(OpenAiError, "output", components);
  const paths: Record<string, Json> = {};
  for (const spec of list) {
    const item = (paths[spec.path] ??= {});
    if (item[spec.method]) throw new Error(`openapi: ${spec.method.toUpperCase()} ${spec.path} is declared twice`);
    item[spec.method] = operationObject(spec, components);
  }
  // A link must name an operation that exists, and fill path parameters it has.
  const ids = new Set(list.map((spec) => operationIdOf(spec.method, spec.path)));
  for (const spec of list) {
    for (const link of Object.values(spec.links ?? {})) {
      const [method, path] = link.operation.split(" ") as [string, string];
      if (!ids.has(operationIdOf(method, path))) throw new Error(`openapi: ${spec.method} ${spec.path} links to ${link.operation}, which is not an operation`);
      for (const parameter of Object.keys(link.parameters)) if (!path.includes(`{${parameter}}`)) throw new Error(`openapi: ${link.operation} has no path parameter ${parameter}`);
    }
  }
  const sortedPaths = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b)));
  const sortedSchemas = Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b)));
  return {
    openapi: "3.1.0",
    info: {
      title: "Tessera BFF",
      version: "1.0.0",
      description:
        "Public HTTP API of Tessera (generated from the BFF's request and response schemas). Browser requests authenticate with the httpOnly session cookie; state-changing requests (POST, PUT, PATCH, DELETE) also need the X-CSRF-Token header (from GET /api/v1/auth/csrf) and a same-origin Origin header, otherwise 403. Requests acting for the signed-in user also accept a personal API key as `Authorization: Bearer tsk_…` (no cookie, no CSRF token). Errors are RFC 9457 problem details with a stable `type` (https://tessera.dev/problems/<code>); /v1 answers errors in OpenAI's format. Unknown body fields are rejected with 400 (ignored on /v1); unknown query parameters are ignored. Lists are paginated with `limit` (1–100) and an opaque `cursor` (`nextCursor` null on the last page). The tenant is chosen by the request's Host.",
    },
    servers: [{ url: "/" }],
    components: {
      securitySchemes: {
        sessionCookie: { type: "apiKey", in: "cookie", name: "tessera_session", description: "`__Host-tessera_session` when served over HTTPS." },
        csrfToken: { type: "apiKey", in: "header", name: "X-CSRF-Token" },
        apiKey: { type: "http", scheme: "bearer", description: "A personal API key (`tsk_…`); each operation lists the scopes any one of which lets a key in" },
      },
      schemas: sortedSchemas,
    },
    paths: sortedPaths,
  };
}

export const openApiDocument = buildOpenApiDocument(operations);
