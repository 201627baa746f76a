/** OpenAPI 3.1 description of the BFF's public HTTP contract (shared/API.md), served at /api/v1/openapi.json. */
const problem = { $ref: "#/components/responses/Problem" };
const json = (schema: object) => ({ content: { "application/json": { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const csrf = [{ sessionCookie: [], csrfToken: [] }];
const cookieOnly = [{ sessionCookie: [] }];

// Chat (API.md "Chat and quota") and the OpenAI-compatible API.
const chatSchema = {
  type: "object",
  required: ["id", "title", "model", "createdAt", "updatedAt"],
  properties: { id: { type: "string" }, title: { type: "string" }, model: { type: "string" }, createdAt: { type: "string", format: "date-time" }, updatedAt: { type: "string", format: "date-time" } },
};
const messageSchema = {
  type: "object",
  required: ["id", "clientMessageId", "seq", "role", "content", "model", "status", "promptTokens", "completionTokens", "createdAt"],
  properties: {
    id: { type: "string" },
    clientMessageId: { type: "string" },
    seq: { type: "integer", description: "Per-chat sequence number" },
    role: { enum: ["user", "assistant"] },
    content: { type: "string" },
    model: { type: "string" },
    status: { enum: ["streaming", "complete", "aborted", "failed"], description: "`streaming` only while an answer is being written" },
    promptTokens: { type: "integer" },
    completionTokens: { type: "integer" },
    createdAt: { type: "string", format: "date-time" },
  },
};
const chatBodySchema = { type: "object", additionalProperties: false, properties: { title: { type: "string", maxLength: 200 }, model: { type: "string" } } };
const chatId = { name: "id", in: "path", required: true, schema: { type: "string" } };
const apiKeyOnly = [{ apiKey: [] }];
const openAiError = {
  description: "OpenAI error body",
  content: { "application/json": { schema: { type: "object", required: ["error"], properties: { error: { type: "object", required: ["message", "type", "param", "code"], properties: { message: { type: "string" }, type: { type: "string" }, param: { type: ["string", "null"] }, code: { type: ["string", "null"] } } } } } } },
};
const chatPaths = {
  "/api/v1/models": { get: { summary: "Models offered to this tenant", security: cookieOnly, responses: { "200": { description: "Models", ...json({ type: "array", items: { type: "object", required: ["id", "name"], properties: { id: { type: "string" }, name: { type: "string" } } } }) }, "401": problem } } },
  "/api/v1/chats": {
    get: {
      summary: "My chats, most recently updated first",
      security: cookieOnly,
      parameters: [
        { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 100, default: 50 } },
        { name: "cursor", in: "query", schema: { type: "string" } },
      ],
      responses: { "200": { description: "A page", ...json({ type: "object", required: ["items", "nextCursor"], properties: { items: { type: "array", items: chatSchema }, nextCursor: { type: ["string", "null"] } } }) }, "400": problem, "401": problem },
    },
    post: {
      summary: "Start a chat (title defaults to \"New chat\" and is taken from the first message; model defaults to the tenant's first)",
      security: csrf,
      requestBody: { required: false, ...json(chatBodySchema) },
      responses: { "201": { description: "Created", ...json({ type: "object", required: ["chat"], properties: { chat: chatSchema } }) }, "400": problem, "401": problem, "403": problem, "404": problem, "409": { description: "At maxChats (problem `chat_limit_reached` with `maxChats`)", content: { "application/problem+json": { schema: ref("Problem") } } } },
    },
  },
  "/api/v1/chats/{id}": {
    parameters: [chatId],
    get: { summary: "One of my chats", security: cookieOnly, responses: { "200": { description: "Chat", ...json(chatSchema) }, "401": problem, "404": problem } },
    patch: { summary: "Rename a chat or change its model", security: csrf, requestBody: { required: true, ...json(chatBodySchema) }, responses: { "200": { description: "Chat", ...json(chatSchema) }, "400": problem, "401": problem, "403": problem, "404": problem } },
    delete: { summary: "Delete a chat and its messages", security: csrf, responses: { "204": { description: "Deleted" }, "401": problem, "403": problem, "404": problem } },
  },
  "/api/v1/chats/{id}/messages": {
    parameters: [chatId],
    get: {
      summary: "Messages by sequence number (ascending): the latest `limit`, or those before/after a sequence number",
      security: cookieOnly,
      parameters: [
        { name: "before", in: "query", schema: { type: "integer", minimum: 0 } },
        { name: "after", in: "query", schema: { type: "integer", minimum: 0 } },
        { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 100, default: 50 } },
      ],
      responses: { "200": { description: "Messages", ...json({ type: "object", required: ["items"], properties: { items: { type: "array", items: messageSchema } } }) }, "400": problem, "401": problem, "404": problem },
    },
    post: {
      summary: "Send a message and stream the answer",
      description:
        "Server-Sent Events: `message` (the stored user message, plus `replyMessageId` of the answer being written), `delta` (`{text}`), `done` (`{message, usage: {promptTokens, completionTokens, totalTokens}}`) or `error` (a problem document). Refusals come before the stream as problems: 429 `quota_exceeded` with `limits`, `used`, `resetAt`; 403 `user_silenced`; 404; 409 `model_unavailable`. A repeated `clientMessageId` replays the stored exchange without calling the model or counting it again.",
      security: csrf,
      requestBody: { required: true, ...json({ type: "object", additionalProperties: false, required: ["content", "clientMessageId"], properties: { content: { type: "string", minLength: 1, maxLength: 32000 }, clientMessageId: { type: "string", pattern: "^[A-Za-z0-9._:-]{1,100}$" } } }) },
      responses: { "200": { description: "Event stream", content: { "text/event-stream": { schema: { type: "string" } } } }, "400": problem, "401": problem, "403": problem, "404": problem, "409": problem, "429": problem, "503": problem },
    },
  },
  "/api/v1/chats/{id}/messages/{messageId}/stop": {
    parameters: [chatId, { name: "messageId", in: "path", required: true, schema: { type: "string" }, description: "The answer's id (`replyMessageId`) or the user message it answers" }],
    post: { summary: "Stop an answer; what was generated is kept with status `aborted` (works from any device)", security: csrf, responses: { "204": { description: "Stopped (or already finished)" }, "401": problem, "403": problem, "404": problem } },
  },
  "/v1/models": { get: { summary: "OpenAI-compatible model list", security: apiKeyOnly, responses: { "200": { description: "`{object: \"list\", data: [{id, object: \"model\", created, owned_by}]}`" }, "401": openAiError } } },
  "/v1/chat/completions": {
    post: {
      summary: "OpenAI-compatible chat completion (`stream` true or false, `stream_options.include_usage`), under the same daily quota",
      security: apiKeyOnly,
      requestBody: { required: true, ...json({ type: "object", required: ["model", "messages"], properties: { model: { type: "string" }, messages: { type: "array", items: { type: "object" } }, stream: { type: "boolean" }, stream_options: { type: "object" }, temperature: { type: "number" }, top_p: { type: "number" }, max_tokens: { type: "integer" }, max_completion_tokens: { type: "integer" }, stop: {} } }) },
      responses: { "200": { description: "`chat.completion`, or `chat.completion.chunk` events ending with `data: [DONE]`" }, "400": openAiError, "401": openAiError, "403": openAiError, "404": openAiError, "429": openAiError, "503": openAiError },
    },
  },
};

export const openApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "Tessera BFF",
    version: "1.0.0",
    description:
      "Public HTTP API of Tessera. Browser requests authenticate with the httpOnly session cookie; state-changing requests (POST, PUT, PATCH, DELETE) also need the X-CSRF-Token header (from GET /api/v1/auth/csrf) and a same-origin Origin header, otherwise 403. Errors are RFC 9457 problem details with a stable `type` (https://tessera.dev/problems/<code>). Unknown body fields are rejected with 400. The tenant is chosen by the request's Host. The CSRF token stays the same for the life of the browser session (clients may still fetch it again after signing in or out).",
  },
  servers: [{ url: "/" }],
  components: {
    securitySchemes: {
      sessionCookie: { type: "apiKey", in: "cookie", name: "tessera_session", description: "`__Host-tessera_session` when served over HTTPS." },
      csrfToken: { type: "apiKey", in: "header", name: "X-CSRF-Token" },
      apiKey: { type: "http", scheme: "bearer", description: "A personal API key (`tsk_…`) for /v1" },
    },
    responses: {
      Problem: { description: "Problem details", content: { "application/problem+json": { schema: ref("Problem") } } },
    },
    schemas: {
      Problem: {
        type: "object",
        required: ["type", "title", "status", "detail"],
        properties: {
          type: { type: "string", format: "uri" },
          title: { type: "string" },
          status: { type: "integer" },
          detail: { type: "string" },
          instance: { type: "string" },
          errors: { type: "array", items: { type: "object", required: ["field", "message"], properties: { field: { type: "string" }, message: { type: "string" } } } },
        },
      },
      User: {
        type: "object",
        required: ["id", "tenantId", "email", "username", "fullName", "avatarUrl", "role", "status", "trustLevel", "premiumUntil", "isPremium", "hasPassword", "createdAt"],
        properties: {
          id: { type: "string" },
          tenantId: { type: "string" },
          email: { type: "string", format: "email" },
          username: { type: "string", minLength: 3, maxLength: 50 },
          fullName: { type: "string" },
          avatarUrl: { type: ["string", "null"] },
          role: { enum: ["user", "admin"] },
          status: { enum: ["active", "disabled", "silenced"] },
          trustLevel: { type: "integer", minimum: 0, maximum: 4 },
          premiumUntil: { type: ["string", "null"], format: "date-time" },
          isPremium: { type: "boolean" },
          hasPassword: { type: "boolean" },
          createdAt: { type: "string", format: "date-time" },
        },
      },
      UsageSeries: {
        type: "object",
        required: ["days"],
        properties: {
          days: {
            type: "array",
            items: {
              type: "object",
              required: ["date", "messages", "tokens", "byModel"],
              properties: {
                date: { type: "string", format: "date" },
                messages: { type: "integer" },
                tokens: { type: "integer" },
                byModel: { type: "array", items: { type: "object", required: ["model", "messages", "tokens"], properties: { model: { type: "string" }, messages: { type: "integer" }, tokens: { type: "integer" } } } },
              },
            },
          },
        },
      },
      UserEnvelope: { type: "object", required: ["user"], properties: { user: ref("User") } },
      Account: {
        type: "object",
        required: ["userId", "email", "username", "displayName", "avatarUrl", "active"],
        properties: {
          userId: { type: "string" },
          email: { type: "string" },
          username: { type: "string" },
          displayName: { type: "string" },
          avatarUrl: { type: "string" },
          active: { type: "boolean" },
        },
      },
    },
  },
  paths: {
    "/api/v1/auth/csrf": {
      get: { summary: "CSRF token for state-changing requests (creates an anonymous browser session when needed)", responses: { "200": { description: "Token", ...json({ type: "object", required: ["token"], properties: { token: { type: "string" } } }) } } },
    },
    "/api/v1/auth/register": {
      post: {
        summary: "Register with a password; signs in (adds the account to this browser, up to 5) and makes it active",
        security: csrf,
        requestBody: {
          required: true,
          ...json({
            type: "object",
            additionalProperties: false,
            required: ["email", "username", "password"],
            properties: { email: { type: "string" }, username: { type: "string" }, password: { type: "string", minLength: 8, maxLength: 256 }, fullName: { type: "string", maxLength: 200 } },
          }),
        },
        responses: { "201": { description: "Registered and signed in (sets the session cookie)", ...json(ref("UserEnvelope")) }, "400": problem, "403": problem, "409": problem },
      },
    },
    "/api/v1/auth/login": {
      post: {
        summary: "Sign in by email or username; adds the account to this browser and makes it active",
        security: csrf,
        requestBody: {
          required: true,
          ...json({ type: "object", additionalProperties: false, required: ["login", "password"], properties: { login: { type: "string" }, password: { type: "string" }, rememberMe: { type: "boolean" } } }),
        },
        responses: { "200": { description: "Signed in (sets the session cookie)", ...json(ref("UserEnvelope")) }, "400": problem, "401": problem, "403": problem, "409": problem, "429": { description: "Throttled; see Retry-After", content: { "application/problem+json": { schema: ref("Problem") } } } },
      },
    },
    "/api/v1/auth/logout": { post: { summary: "Sign out the active account of this browser only", security: csrf, responses: { "204": { description: "Signed out" }, "403": problem } } },
    "/api/v1/auth/logout-all": { post: { summary: "Revoke every session of the active user", security: csrf, responses: { "204": { description: "All sessions revoked" }, "401": problem, "403": problem } } },
    "/api/v1/auth/providers": { get: { summary: "Sign-in providers enabled for this tenant", responses: { "200": { description: "Providers", ...json({ type: "array", items: { type: "object", required: ["id", "name", "type"], properties: { id: { type: "string" }, name: { type: "string" }, type: { type: "string" } } } }) } } } },
    "/api/v1/accounts": { get: { summary: "Accounts signed in in this browser", security: cookieOnly, responses: { "200": { description: "Accounts", ...json({ type: "array", items: ref("Account") }) } } } },
    "/api/v1/accounts/switch": {
      post: {
        summary: "Make another signed-in account active",
        security: csrf,
        requestBody: { required: true, ...json({ type: "object", additionalProperties: false, required: ["userId"], properties: { userId: { type: "string" } } }) },
        responses: { "200": { description: "Now active", ...json(ref("UserEnvelope")) }, "400": problem, "403": problem, "404": problem },
      },
    },
    "/api/v1/me": { get: { summary: "The active account", security: cookieOnly, responses: { "200": { description: "User", ...json(ref("User")) }, "401": problem } } },
    // Quota and usage (quota-routes.ts). Dates are YYYY-MM-DD in the tenant's time zone.
    "/api/v1/quota": {
      get: {
        summary: "Today's usage and limits of the active account, and when they reset",
        security: cookieOnly,
        responses: {
          "200": {
            description: "Quota",
            ...json({
              type: "object",
              required: ["messages", "tokens", "resetAt", "premium"],
              properties: {
                messages: { type: "object", required: ["used", "limit"], properties: { used: { type: "integer" }, limit: { type: "integer" } } },
                tokens: { type: "object", required: ["used", "limit"], properties: { used: { type: "integer" }, limit: { type: "integer" } } },
                resetAt: { type: "string", format: "date-time" },
                premium: { type: "boolean" },
              },
            }),
          },
          "401": problem,
        },
      },
    },
    "/api/v1/me/usage": {
      get: {
        summary: "Daily usage series of the active account (every day of the range, per model); default the last 30 days, at most 366",
        security: cookieOnly,
        parameters: [
          { name: "from", in: "query", schema: { type: "string", format: "date" } },
          { name: "to", in: "query", schema: { type: "string", format: "date" } },
        ],
        responses: { "200": { description: "Usage series", ...json(ref("UsageSeries")) }, "400": problem, "401": problem },
      },
    },
    "/api/v1/admin/usage": {
      get: {
        summary: "Admins: every user's usage of this tenant on a day (default today), paginated, with the day's totals",
        security: cookieOnly,
        parameters: [
          { name: "date", in: "query", schema: { type: "string", format: "date" } },
          { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 100, default: 50 } },
          { name: "cursor", in: "query", schema: { type: "string" } },
        ],
        responses: {
          "200": {
            description: "Day usage",
            ...json({
              type: "object",
              required: ["date", "items", "nextCursor", "totals"],
              properties: {
                date: { type: "string", format: "date" },
                items: {
                  type: "array",
                  items: { type: "object", required: ["userId", "username", "email", "messages", "tokens"], properties: { userId: { type: "string" }, username: { type: "string" }, email: { type: "string" }, messages: { type: "integer" }, tokens: { type: "integer" } } },
                },
                nextCursor: { type: ["string", "null"] },
                totals: { type: "object", required: ["messages", "tokens"], properties: { messages: { type: "integer" }, tokens: { type: "integer" } } },
              },
            }),
          },
          "400": problem,
          "401": problem,
          "403": problem,
        },
      },
    },
    "/api/v1/admin/usage/{userId}": {
      get: {
        summary: "Admins: a user's daily usage series (same tenant only)",
        security: cookieOnly,
        parameters: [
          { name: "userId", in: "path", required: true, schema: { type: "string" } },
          { name: "from", in: "query", schema: { type: "string", format: "date" } },
          { name: "to", in: "query", schema: { type: "string", format: "date" } },
        ],
        responses: { "200": { description: "Usage series", ...json(ref("UsageSeries")) }, "400": problem, "401": problem, "403": problem, "404": problem },
      },
    },
    ...chatPaths,
    "/healthz": { get: { summary: "Process alive", responses: { "200": { description: "Alive" } } } },
    "/readyz": { get: { summary: "Dependencies reachable (each named in `checks`)", responses: { "200": { description: "Ready" }, "503": { description: "A dependency is down" } } } },
  },
} as const;
