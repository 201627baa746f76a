import type { Express } from "express";
import { describe, expect, it } from "vitest";
import { createAdmissionLimit } from "@tessera/platform";
import { createApp, type AppDependencies } from "../app.ts";
import { operation } from "./contract.ts";
import { buildOpenApiDocument, openApiDocument, operations } from "./openapi.ts";
import { z } from "./validate.ts";

interface Layer {
  rawPath?: string | RegExp;
  route?: { path: string | RegExp; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
}

/** Every method and path express serves, written the OpenAPI way (`/chats/{id}`). */
function servedRoutes(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        // The web app's fallback (a regular expression) is not part of the API.
        if (typeof layer.route.path !== "string") continue;
        const path = (prefix + layer.route.path).replace(/\/$/, "").replace(/:(\w+)/g, "{$1}") || "/";
        for (const method of Object.keys(layer.route.methods)) if (method !== "_all") found.push(`${method} ${path}`);
      } else if (layer.handle.stack) {
        walk(layer.handle.stack, prefix + (typeof layer.rawPath === "string" && layer.rawPath !== "/" ? layer.rawPath : ""));
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, "");
  return found.sort();
}

const stubs = new Proxy({}, { get: () => () => undefined }) as never;
const app = createApp({
  logger: { warn: () => undefined, info: () => undefined, error: () => undefined } as never,
  identity: stubs,
  session: stubs,
  auth: stubs,
  store: stubs,
  cookie: { name: "tessera_session", secure: false },
  csrf: stubs,
  publicBaseUrl: "http://localhost",
  trustedProxies: "",
  webBuildDir: "/nonexistent",
  dependencies: [],
  isShuttingDown: () => false,
  chat: stubs,
  quota: stubs,
  admin: stubs,
  edge: stubs,
  completions: createAdmissionLimit(1),
  tenantOf: async () => {
    throw new Error("unused");
  },
} satisfies AppDependencies);

describe("the OpenAPI document", () => {
  it("describes exactly the routes express serves (declare an operation() next to every new route)", () => {
    const documented = operations.map((operation) => `${operation.method} ${operation.path}`).sort();
    expect(servedRoutes(app)).toEqual(documented);
  });

  it("is OpenAPI 3.1 with every response described and every schema reference resolvable", () => {
    expect(openApiDocument.openapi).toBe("3.1.0");
    const text = JSON.stringify(openApiDocument);
    const schemas = (openApiDocument.components as { schemas: Record<string, unknown> }).schemas;
    for (const [, name] of text.matchAll(/"#\/components\/schemas\/([^"]+)"/g)) expect(schemas, name).toHaveProperty(name!);
    expect(text).not.toContain("#/$defs/");
  });

  it("describes the answer stream event by event, and request bodies as strictly as the server parses them", () => {
    const paths = openApiDocument.paths as Record<string, Record<string, any>>;
    const send = paths["/api/v1/chats/{id}/messages"]!.post;
    expect(send.responses["200"].content["text/event-stream"].schema).toEqual({ type: "array", items: { $ref: "#/components/schemas/ChatStreamEvent" } });
    const events = (openApiDocument.components as { schemas: Record<string, any> }).schemas.ChatStreamEvent.oneOf.map((event: any) => event.properties.event.const);
    expect(events).toEqual(["message", "delta", "done", "error"]);
    const body = send.requestBody.content["application/json"].schema;
    expect(body).toMatchObject({ additionalProperties: false, required: ["content", "clientMessageId"], properties: { content: { minLength: 1, maxLength: 32000 } } });
  });

  it("links an answer only to operations that exist, filling path parameters they have", () => {
    const create = (target: `get /${string}`, parameter: string) =>
      operation({ method: "post", path: "/things", auth: "none", summary: "Create", responses: { 201: z.object({ id: z.string() }) }, links: { read: { operation: target, parameters: { [parameter]: "/id" } } } });
    const read = operation({ method: "get", path: "/things/{id}", auth: "none", summary: "Read", responses: { 200: z.object({ id: z.string() }) } });
    const links = (buildOpenApiDocument([create("get /things/{id}", "id"), read]).paths as Record<string, any>)["/things"].post.responses["201"].links;
    expect(links).toEqual({ read: { operationId: "getThingsById", parameters: { "path.id": "$response.body#/id" } } });
    expect(() => buildOpenApiDocument([create("get /others/{id}", "id"), read])).toThrow(/not an operation/);
    expect(() => buildOpenApiDocument([create("get /things/{id}", "thingId"), read])).toThrow(/no path parameter thingId/);
  });
});
