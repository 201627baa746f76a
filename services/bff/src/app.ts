import { existsSync } from "node:fs";
import { join } from "node:path";
import express, { type Express } from "express";
import { checkReadiness, notFound, type AdmissionLimit, type Dependency, type Logger } from "@tessera/platform";
import type { IdentityClient, SessionClient } from "./adapters/service-clients.ts";
import type { BrowserAuth } from "./application/browser-auth.ts";
import type { BrowserSessionStore } from "./application/browser-session.ts";
import { openApiDocument, operations } from "./http/openapi.ts";
import { problemMiddleware } from "./http/problem.ts";
import type { CsrfTokens } from "./http/csrf-token.ts";
import { appContentSecurityPolicy, isInternalCaller, securityHeaders } from "./http/security-headers.ts";
import { methodNotAllowed, refuseNulInUrl } from "./http/request-guards.ts";
import { csrfMiddleware, requestContextMiddleware, type CookieSettings } from "./http/request-context.ts";
import { accountRoutes } from "./routes/account-routes.ts";
import { authRoutes } from "./routes/auth-routes.ts";
import { meRoutes } from "./routes/me-routes.ts";
import { adminUserRoutes } from "./routes/admin-user-routes.ts";
import { operatorRoutes } from "./routes/operator-routes.ts";
import { adminRoutes } from "./routes/admin-routes.ts";
import type { AdminClient } from "./adapters/admin-client.ts";
import type { ChatClient } from "./adapters/chat-client.ts";
import { chatRoutes, modelRoutes } from "./routes/chat-routes.ts";
import { openAiErrorMiddleware, openAiRoutes } from "./routes/openai-routes.ts";
import type { QuotaClient } from "./adapters/quota-client.ts";
import { quotaRoutes } from "./routes/quota-routes.ts";
import type { Tenant } from "@tessera/proto/tessera/identity/v1/identity";
import type { EdgeAuthentication } from "./application/edge-authentication.ts";

export interface AppDependencies {
  logger: Logger;
  identity: IdentityClient;
  session: SessionClient;
  auth: BrowserAuth;
  store: BrowserSessionStore;
  cookie: CookieSettings;
  /** Stateless CSRF tokens (http/csrf-token.ts). */
  csrf: CsrfTokens;
  publicBaseUrl: string;
  trustedProxies: string;
  webBuildDir: string;
  dependencies: Dependency[];
  isShuttingDown: () => boolean;
  chat: ChatClient;
  quota: QuotaClient;
  admin: AdminClient;
  /** Authenticates a request once: browser session or API key into a verified caller. */
  edge: EdgeAuthentication;
  /** The bound on completions in flight in this process (/v1/chat/completions and the web send, together). */
  completions: AdmissionLimit;
  /** The tenant whose domain is the Host (unknown hosts: default), from the platform cache. */
  tenantOf(host: string): Promise<Tenant>;
}

function trustProxySetting(value: string): boolean | number | string[] {
  if (value.trim() === "") return false;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  return value.split(",").map((entry) => entry.trim()).filter(Boolean);
}

/** The BFF's HTTP surface: API (problem+json errors), probes and the web app's build. */
export function createApp(deps: AppDependencies): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", trustProxySetting(deps.trustedProxies));
  app.set("etag", false);
  const indexFile = join(deps.webBuildDir, "index.html");
  app.use(securityHeaders({ publicBaseUrl: deps.publicBaseUrl, appPolicy: appContentSecurityPolicy(indexFile) }));
  app.use(refuseNulInUrl());
  // Before authentication and CSRF: a method a path does not have is 405 whoever asks.
  app.use(methodNotAllowed(operations));

  app.get("/healthz", (_request, response) => {
    response.json({ status: "ok" });
  });
  // Public keys that verify access tokens, for anyone who needs to check one.
  app.get("/.well-known/jwks.json", async (_request, response, next) => {
    try {
      response.setHeader("Cache-Control", "public, max-age=300");
      response.type("application/jwk-set+json").send((await deps.session.getJwks({})).json);
    } catch (error) {
      next(error);
    }
  });
  // Which dependency is down is for the installation's own probes; the public sees the status only.
  app.get("/readyz", async (request, response) => {
    response.setHeader("Cache-Control", "no-store");
    if (deps.isShuttingDown()) return void response.status(503).json({ status: "shutting_down", checks: {} });
    const report = await checkReadiness(deps.dependencies);
    response.status(report.ready ? 200 : 503).json({ status: report.ready ? "ok" : "unavailable", checks: isInternalCaller(request) ? report.checks : {} });
  });

  const api = express.Router();
  api.use((_request, response, next) => {
    response.setHeader("Cache-Control", "no-store");
    next();
  });
  api.get("/openapi.json", (_request, response) => {
    response.json(openApiDocument);
  });
  api.use(express.json({ limit: "1mb", strict: true, type: ["application/json", "application/*+json"] }));
  api.use(requestContextMiddleware(deps));
  api.use(csrfMiddleware(deps.publicBaseUrl, deps.csrf));
  api.use("/auth", authRoutes(deps));
  api.use("/accounts", accountRoutes(deps));
  api.use("/me", meRoutes(deps));
  api.use("/admin/users", adminUserRoutes(deps));
  api.use("/admin", adminRoutes(deps));
  api.use("/operator", operatorRoutes(deps));
  api.use("/models", modelRoutes(deps));
  api.use("/chats", chatRoutes(deps));
  api.use(quotaRoutes(deps));
  api.use((request, _response, next) => next(notFound(`endpoint ${request.method} ${request.baseUrl}${request.path}`)));
  app.use("/api/v1", api);

  // The OpenAI-compatible API: API keys instead of cookies (so no CSRF), OpenAI's error format.
  const openAi = express.Router();
  openAi.use(requestContextMiddleware(deps));
  openAi.use(openAiRoutes(deps));
  openAi.use(openAiErrorMiddleware(deps.logger));
  app.use("/v1", openAi);

  // The SvelteKit build: hashed assets cached for a year, everything else falls back to the app shell.
  if (existsSync(indexFile)) {
    app.use("/_app/immutable", express.static(join(deps.webBuildDir, "_app/immutable"), { immutable: true, maxAge: "365d" }));
    app.use(express.static(deps.webBuildDir, { index: false, maxAge: 0 }));
    app.get(/^\/(?!api\/|v1\/).*/, (request, response, next) => {
      if (request.method !== "GET" || !request.accepts("html")) return next();
      response.setHeader("Cache-Control", "no-cache");
      response.sendFile(indexFile);
    });
  } else {
    deps.logger.warn({ webBuildDir: deps.webBuildDir }, "web build not found; only the API is served (run npm run build -w web)");
  }

  app.use((request, _response, next) => next(notFound(`path ${request.path}`)));
  // Errors raised before the /v1 router (NUL in the URL, 405, unknown /v1 paths) in OpenAI's format too.
  app.use("/v1", openAiErrorMiddleware(deps.logger));
  app.use(problemMiddleware(deps.logger));
  return app;
}
