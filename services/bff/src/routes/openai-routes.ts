import express, { Router, type ErrorRequestHandler, type Request, type Response } from "express";
import type { CompletionRequest, Usage } from "@tessera/proto/tessera/chat/v1/chat";
import { API_KEY_PREFIX, AppError, type AdmissionLimit, toAppError, unauthenticated, validationFailed, type Logger } from "@tessera/platform";
import type { ChatClient } from "../adapters/chat-client.ts";
import { route } from "../http/problem.ts";
import { authenticate, bearerCredential, contextOf, type ActiveAccountDependencies } from "../http/request-context.ts";
import { operation } from "../http/contract.ts";
import { admit } from "../http/admission.ts";
import { startEventStream } from "../http/event-stream.ts";
import { z } from "../http/validate.ts";

/** OpenAI's error body: {error: {message, type, param, code}}. */
export function openAiError(error: unknown): { status: number; body: { error: Record<string, unknown> } } {
  const appError = toAppError(error);
  const status = appError.status === 499 ? 400 : appError.status;
  const exposed = appError.expose;
  const type =
    status === 401
      ? "invalid_request_error"
      : status === 429
        ? appError.code === "quota_exceeded"
          ? "insufficient_quota"
          : "rate_limit_error"
        : status === 403
          ? "permission_error"
          : status >= 500
            ? "server_error"
            : "invalid_request_error";
  const code = status === 401 ? "invalid_api_key" : appError.code === "quota_exceeded" ? "insufficient_quota" : exposed ? appError.code : "internal_error";
  const field = exposed ? appError.errors?.[0]?.field : undefined;
  const detail = exposed
    ? appError.message +
      (appError.errors && appError.errors.length > 0 ? ` (${appError.errors.map((item) => `${item.field}: ${item.message}`).join("; ")})` : "")
    : "Something went wrong on our side.";
  return {
    status,
    body: {
      error: {
        message: detail,
        type,
        param: field ? field.replace(/\.(\d+)/g, "[$1]") : null,
        code,
        ...(exposed && appError.extensions ? appError.extensions : {}),
      },
    },
  };
}

const contentPart = z.object({ type: z.string(), text: z.string().optional() }).passthrough();
const messageSchema = z
  .object({
    role: z.enum(["system", "developer", "user", "assistant", "tool"]),
    content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
    name: z.string().max(100).optional(),
  })
  .passthrough();
// Unknown request fields are ignored, as OpenAI's own clients may send newer ones; only these reach the model.
const completionSchema = z.object({
  model: z.string().min(1).max(200),
  messages: z.array(messageSchema).min(1).max(1_000),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullable().optional(),
  n: z.number().int().min(1).max(1).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  max_tokens: z.number().int().min(1).nullable().optional(),
  max_completion_tokens: z.number().int().min(1).nullable().optional(),
  stop: z
    .union([z.string(), z.array(z.string()).max(4)])
    .nullable()
    .optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  response_format: z.object({ type: z.string() }).passthrough().nullable().optional(),
});
const openAiUsage = z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() });
const completionBase = { id: z.string(), created: z.number().int(), model: z.string(), system_fingerprint: z.null() };
const Completion = z.object({
  ...completionBase,
  object: z.literal("chat.completion"),
  choices: z.array(
    z.object({
      index: z.number().int(),
      message: z.object({ role: z.literal("assistant"), content: z.string(), refusal: z.null() }),
      logprobs: z.null(),
      finish_reason: z.string(),
    }),
  ),
  usage: openAiUsage,
});
const CompletionChunk = z
  .object({
    ...completionBase,
    object: z.literal("chat.completion.chunk"),
    choices: z.array(
      z.object({
        index: z.number().int(),
        delta: z.object({ role: z.literal("assistant").optional(), content: z.string().optional() }),
        logprobs: z.null(),
        finish_reason: z.string().nullable(),
      }),
    ),
    usage: openAiUsage.nullable().optional().meta({ description: "With `stream_options.include_usage`: null on each chunk, the totals on a last chunk with no choices" }),
  })
  .meta({ id: "ChatCompletionChunk" });
const ModelList = z.object({
  object: z.literal("list"),
  data: z.array(z.object({ id: z.string(), object: z.literal("model"), created: z.number().int(), owned_by: z.string() })),
});

export const openAiOperations = [
  operation({ method: "get", path: "/v1/models", auth: "apiKey", summary: "OpenAI-compatible model list", responses: { 200: ModelList }, errors: [401, 503] }),
  operation({
    method: "post",
    path: "/v1/chat/completions",
    auth: "apiKey",
    summary: "OpenAI-compatible chat completion (`stream` true or false, `stream_options.include_usage`), under the same daily quota",
    description:
      "Unknown request fields are ignored. With `stream: true` the answer is Server-Sent Events: `data: <ChatCompletionChunk>` events ending with `data: [DONE]`; a failure mid-stream arrives as `data: <OpenAiError>`. 429 `insufficient_quota` carries `x-should-retry: false`. 503 `overloaded` with `Retry-After` when this server has as many completions in flight as it admits (`BFF_MAX_COMPLETIONS_IN_FLIGHT`): retry then, as OpenAI's clients do.",
    body: completionSchema,
    responses: {
      200: {
        description: "A `chat.completion`, or with `stream: true` its chunks as Server-Sent Events",
        content: { "application/json": Completion, "text/event-stream": z.array(CompletionChunk) },
      },
    },
    errors: [400, 401, 403, 404, 409, 429, 503],
    admission: true,
  }),
];

const PASSED_PARAMETERS = [
  "temperature",
  "top_p",
  "max_tokens",
  "max_completion_tokens",
  "stop",
  "presence_penalty",
  "frequency_penalty",
  "seed",
  "response_format",
] as const;

function parseCompletion(body: unknown): z.infer<typeof completionSchema> {
  const result = completionSchema.safeParse(body);
  if (result.success) return result.data;
  throw validationFailed(
    result.error.issues.map((issue) => ({ field: issue.path.join("."), message: issue.message })),
    "Invalid request.",
  );
}

const textOf = (content: z.infer<typeof messageSchema>["content"]): string =>
  typeof content === "string" ? content : Array.isArray(content) ? content.map((part) => (part.type === "text" ? (part.text ?? "") : "")).join("") : "";

const usageJson = (usage: Usage | undefined) => ({
  prompt_tokens: usage?.promptTokens ?? 0,
  completion_tokens: usage?.completionTokens ?? 0,
  total_tokens: usage?.totalTokens ?? 0,
});

interface OpenAiRouteDependencies {
  chat: ChatClient;
  logger: Logger;
  /** The edge's one authentication (API keys here). */
  edge: ActiveAccountDependencies["edge"];
  auth: ActiveAccountDependencies["auth"];
  completions: AdmissionLimit;
}

/**
 * The caller token of the request's API key, checked at the edge to be live, of this Host's
 * tenant and allowed inference (OpenAI's wording on failure).
 */
async function apiKeyOf(request: Request, response: Response, deps: OpenAiRouteDependencies): Promise<string> {
  if (!bearerCredential(request)?.startsWith(API_KEY_PREFIX))
    throw unauthenticated(
      "You didn't provide a valid API key. Send it as 'Authorization: Bearer tsk_...' (create one under Settings → API keys).",
      "invalid_api_key",
    );
  return (await authenticate(request, contextOf(response), deps, ["inference"])).accessToken;
}

/** The OpenAI-compatible API at /v1: API-key authentication, OpenAI's request, response, stream and error formats. */
export function openAiRoutes(deps: OpenAiRouteDependencies): Router {
  const router = Router();
  router.use((_request, response, next) => {
    response.setHeader("Cache-Control", "no-store");
    next();
  });
  const jsonBody = express.json({ limit: "4mb", type: ["application/json", "application/*+json"] });

  router.get(
    "/models",
    route(async (request, response) => {
      const key = await apiKeyOf(request, response, deps);
      const models = await deps.chat.listModels({}, { accessToken: key });
      response.json({ object: "list", data: models.items.map((model) => ({ id: model.id, object: "model", created: 0, owned_by: "tessera" })) });
    }),
  );

  router.post(
    "/chat/completions",
    // Before the body is read and the key checked: a refusal costs no parse and no call to another service.
    admit(deps.completions),
    jsonBody,
    route(async (request, response) => {
      const key = await apiKeyOf(request, response, deps);
      const body = parseCompletion(request.body);
      const parameters: Record<string, unknown> = {};
      for (const name of PASSED_PARAMETERS) if (body[name] !== undefined && body[name] !== null) parameters[name] = body[name];
      const call: CompletionRequest = {
        model: body.model,
        messages: body.messages.map((message) => ({ role: message.role, content: textOf(message.content), ...(message.name ? { name: message.name } : {}) })),
        parametersJson: JSON.stringify(parameters),
        stream: body.stream === true,
      };
      const cancel = new AbortController();
      // Only a client that left before the end cancels the call (aborting costs an exception object).
      response.on("close", () => {
        if (!response.writableFinished) cancel.abort();
      });
      const events = deps.chat.complete(call, { accessToken: key, signal: cancel.signal })[Symbol.asyncIterator]();
      // Nothing is answered before the model's first token: every refusal is a plain error response.
      let next = await events.next();
      const started = next.value?.started;
      if (next.done || !started) throw new AppError("internal", 500, "The completion did not start.", { expose: false });
      const base = { id: started.id, created: started.created, model: started.model };

      if (!body.stream) {
        let content = "";
        let finishReason = "stop";
        let usage: Usage | undefined;
        for (next = await events.next(); !next.done; next = await events.next()) {
          if (next.value.delta !== undefined) content += next.value.delta;
          else if (next.value.done) {
            finishReason = next.value.done.finishReason || "stop";
            usage = next.value.done.usage;
          }
        }
        response.json({
          ...base,
          object: "chat.completion",
          choices: [{ index: 0, message: { role: "assistant", content, refusal: null }, logprobs: null, finish_reason: finishReason }],
          usage: usageJson(usage),
          system_fingerprint: null,
        } satisfies z.output<typeof Completion>);
        return;
      }

      const stream = startEventStream(response);
      const chunk = (choices: unknown[], extra: object = {}) =>
        stream.write(`data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", system_fingerprint: null, choices, ...extra })}\n\n`);
      const includeUsage = body.stream_options?.include_usage === true;
      const withUsage = includeUsage ? { usage: null } : {};
      chunk([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }], withUsage);
      try {
        for (next = await events.next(); !next.done; next = await events.next()) {
          const event = next.value;
          if (event.delta !== undefined) chunk([{ index: 0, delta: { content: event.delta }, logprobs: null, finish_reason: null }], withUsage);
          else if (event.done) {
            chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: event.done.finishReason || "stop" }], withUsage);
            if (includeUsage) chunk([], { usage: usageJson(event.done.usage) });
          }
        }
        stream.write("data: [DONE]\n\n");
      } catch (error) {
        // Mid-stream failures travel the way OpenAI sends them: an error object in the stream.
        if (!cancel.signal.aborted) stream.write(`data: ${JSON.stringify(openAiError(error).body)}\n\n`);
      } finally {
        stream.end();
      }
    }),
  );

  router.use((request, _response, next) => next(new AppError("not_found", 404, `Unknown endpoint ${request.method} /v1${request.path}.`)));
  return router;
}

/** Errors on /v1 leave in OpenAI's format, never as problem+json. */
export function openAiErrorMiddleware(logger: Logger): ErrorRequestHandler {
  return (error, request, response, _next) => {
    let appError = toAppError(error);
    const type = (error as { type?: string }).type;
    if (type === "entity.parse.failed") appError = new AppError("invalid_json", 400, "We could not parse the JSON body of your request.");
    else if (type === "entity.too.large") appError = new AppError("payload_too_large", 413, "The request body is too large.");
    if (appError.status >= 500 && appError.status !== 503)
      logger.error({ err: appError.cause ?? appError, path: request.path }, "openai-compatible request failed");
    if (response.headersSent) return void response.end();
    const { status, body } = openAiError(appError);
    if (appError.retryAfterSeconds !== undefined) response.setHeader("Retry-After", String(Math.max(1, Math.ceil(appError.retryAfterSeconds))));
    // OpenAI's clients retry 429s on their own; a spent daily quota will not come back in seconds.
    if (appError.code === "quota_exceeded") response.setHeader("x-should-retry", "false");
    response.status(status).json(body);
  };
}
