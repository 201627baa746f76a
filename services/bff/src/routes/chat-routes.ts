import { Router } from "express";
import type { Chat, Message, Usage } from "@tessera/proto/tessera/chat/v1/chat";
import { toProblem, type AdmissionLimit } from "@tessera/platform";
import type { ChatClient } from "../adapters/chat-client.ts";
import type { BrowserAuth } from "../application/browser-auth.ts";
import type { BrowserSessionStore } from "../application/browser-session.ts";
import { admit } from "../http/admission.ts";
import { startEventStream } from "../http/event-stream.ts";
import { pageQuery } from "../http/pagination.ts";
import { route } from "../http/problem.ts";
import { authenticate, contextOf, persistWhenChanged, withActiveAccount, type CookieSettings, type ActiveAccountDependencies } from "../http/request-context.ts";
import { nextCursor, operation, Problem } from "../http/contract.ts";
import { parseBody, parseQuery, z } from "../http/validate.ts";

const dateTime = z.string().meta({ format: "date-time" });
const ChatJson = z.object({ id: z.string(), title: z.string(), model: z.string(), createdAt: dateTime, updatedAt: dateTime }).meta({ id: "Chat" });
const MessageJson = z
  .object({
    id: z.string(),
    clientMessageId: z.string().meta({ description: "The sender's id of a user message (empty on answers)" }),
    seq: z.number().int().meta({ description: "Per-chat sequence number" }),
    role: z.enum(["user", "assistant"]),
    content: z.string(),
    model: z.string(),
    status: z.enum(["streaming", "complete", "aborted", "failed"]).meta({ description: "`streaming` only while an answer is being written" }),
    promptTokens: z.number().int(),
    completionTokens: z.number().int(),
    createdAt: dateTime,
  })
  .meta({ id: "Message" });
const UsageJson = z.object({ promptTokens: z.number().int(), completionTokens: z.number().int(), totalTokens: z.number().int() });
const Model = z.object({ id: z.string(), name: z.string() }).meta({ id: "Model" });
const ChatPage = z.object({ items: z.array(ChatJson), nextCursor });
const MessageList = z.object({ items: z.array(MessageJson) });

/** The events of the answer stream, in order: one `message`, any number of `delta`, then `done` or `error`. */
const StreamEvent = z
  .discriminatedUnion("event", [
    z.object({ event: z.literal("message"), data: MessageJson.extend({ replyMessageId: z.string().meta({ description: "The id of the answer being written (for stop)" }) }) }),
    z.object({ event: z.literal("delta"), data: z.object({ text: z.string() }) }),
    z.object({ event: z.literal("done"), data: z.object({ message: MessageJson.nullable(), usage: UsageJson }) }),
    z.object({ event: z.literal("error"), data: Problem }),
  ])
  .meta({ id: "ChatStreamEvent", description: "One Server-Sent Event: `event: <event>` and `data: <data as JSON>`." });

export const chatJson = (chat: Chat): z.output<typeof ChatJson> => ({ id: chat.id, title: chat.title, model: chat.model, createdAt: chat.createdAt, updatedAt: chat.updatedAt });
export const messageJson = (message: Message): z.output<typeof MessageJson> => ({
  id: message.id,
  clientMessageId: message.clientMessageId,
  seq: message.seq,
  // the chat service stores only these (services/chat/src/domain/chat.ts)
  role: message.role as z.output<typeof MessageJson>["role"],
  content: message.content,
  model: message.model,
  status: message.status as z.output<typeof MessageJson>["status"],
  promptTokens: message.promptTokens,
  completionTokens: message.completionTokens,
  createdAt: message.createdAt,
});
const usageJson = (usage: Usage | undefined): z.output<typeof UsageJson> => ({
  promptTokens: usage?.promptTokens ?? 0,
  completionTokens: usage?.completionTokens ?? 0,
  totalTokens: usage?.totalTokens ?? 0,
});

const chatBody = z.object({ title: z.string().max(200).optional(), model: z.string().min(1).max(200).optional() }).strict();
const sendBody = z.object({ content: z.string().min(1).max(32_000), clientMessageId: z.string().min(1).max(100) }).strict();
const seq = z.coerce.number().int().min(0).optional();
const messagesQuery = z.object({ before: seq, after: seq, limit: pageQuery.limit });
const chatsQuery = z.object(pageQuery);

export const chatOperations = [
  operation({ method: "get", path: "/api/v1/models", auth: "account", summary: "Models offered to this tenant", responses: { 200: z.array(Model) }, errors: [401] }),
  operation({ method: "get", path: "/api/v1/chats", auth: "account", summary: "My chats, most recently updated first", query: chatsQuery, responses: { 200: ChatPage }, errors: [400, 401] }),
  operation({
    method: "post",
    path: "/api/v1/chats",
    auth: "account",
    summary: "Start a chat (title defaults to \"New chat\" and is taken from the first message; model defaults to the tenant's first)",
    description: "409 `chat_limit_reached` (with `maxChats`) at the user's chat limit.",
    body: chatBody,
    bodyOptional: true,
    responses: { 201: z.object({ chat: ChatJson }) },
    errors: [400, 401, 403, 404, 409],
    links: {
      read: { operation: "get /api/v1/chats/{id}", parameters: { id: "/chat/id" } },
      rename: { operation: "patch /api/v1/chats/{id}", parameters: { id: "/chat/id" } },
      messages: { operation: "get /api/v1/chats/{id}/messages", parameters: { id: "/chat/id" } },
      send: { operation: "post /api/v1/chats/{id}/messages", parameters: { id: "/chat/id" } },
      remove: { operation: "delete /api/v1/chats/{id}", parameters: { id: "/chat/id" } },
    },
  }),
  operation({ method: "get", path: "/api/v1/chats/{id}", auth: "account", summary: "One of my chats", responses: { 200: ChatJson }, errors: [401, 404] }),
  operation({ method: "patch", path: "/api/v1/chats/{id}", auth: "account", summary: "Rename a chat or change its model", body: chatBody, responses: { 200: ChatJson }, errors: [400, 401, 403, 404] }),
  operation({ method: "delete", path: "/api/v1/chats/{id}", auth: "account", summary: "Delete a chat and its messages", responses: { 204: null }, errors: [401, 403, 404] }),
  operation({
    method: "get",
    path: "/api/v1/chats/{id}/messages",
    auth: "account",
    summary: "Messages by sequence number (ascending): the latest `limit`, or those before / after a sequence number",
    query: messagesQuery,
    responses: { 200: MessageList },
    errors: [400, 401, 404],
  }),
  operation({
    method: "post",
    path: "/api/v1/chats/{id}/messages",
    auth: "account",
    summary: "Send a message and stream the answer",
    description:
      "Server-Sent Events (`ChatStreamEvent`): `message` (the stored user message, plus `replyMessageId` of the answer being written), `delta` (`{text}`), then `done` (`{message, usage}`) or `error` (a problem). Refusals come before the stream as problems: 429 `quota_exceeded` with `limits`, `used`, `resetAt`; 403 `user_silenced`; 404; 409 `model_unavailable`; 503 `overloaded` with `Retry-After` when this server has as many answers in flight as it admits. A repeated `clientMessageId` replays the stored exchange without calling the model or counting it again.",
    body: sendBody,
    responses: { 200: { description: "The answer as Server-Sent Events (one `ChatStreamEvent` per event)", content: { "text/event-stream": z.array(StreamEvent) } } },
    errors: [400, 401, 403, 404, 409, 429, 503],
    admission: true,
  }),
  operation({
    method: "post",
    path: "/api/v1/chats/{id}/messages/{messageId}/stop",
    auth: "account",
    summary: "Stop an answer (`messageId`: the answer's id or the user message it answers); what was generated is kept with status `aborted`",
    responses: { 204: null },
    errors: [401, 403, 404],
  }),
];

interface ChatRouteDependencies extends ActiveAccountDependencies {
  auth: BrowserAuth;
  store: BrowserSessionStore;
  cookie: CookieSettings;
  chat: ChatClient;
  completions: AdmissionLimit;
}


/** Models, chats and messages of the active account (API.md "Chat and quota"). */
export function modelRoutes(deps: ChatRouteDependencies): Router {
  const router = Router();
  router.get(
    "/",
    withActiveAccount(deps, async ({ accessToken }) => ({
      body: (await deps.chat.listModels({}, { accessToken })).items.map(({ id, name }): z.output<typeof Model> => ({ id, name })),
    })),
  );
  return router;
}

export function chatRoutes(deps: ChatRouteDependencies): Router {
  const router = Router();

  router.get(
    "/",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      const query = parseQuery(chatsQuery, request.query);
      const page = await deps.chat.listChats({ limit: query.limit, cursor: query.cursor ?? "" }, { accessToken });
      return { body: { items: page.items.map(chatJson), nextCursor: page.nextCursor || null } satisfies z.output<typeof ChatPage> };
    }),
  );

  router.post(
    "/",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      const body = parseBody(chatBody, request.body ?? {});
      return { status: 201, body: { chat: chatJson(await deps.chat.createChat(body, { accessToken })) } };
    }),
  );

  router.get(
    "/:id",
    withActiveAccount(deps, async ({ request, accessToken }) => ({
      body: chatJson(await deps.chat.getChat({ id: String(request.params.id) }, { accessToken })),
    })),
  );

  router.patch(
    "/:id",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      const body = parseBody(chatBody, request.body);
      return { body: chatJson(await deps.chat.updateChat({ id: String(request.params.id), ...body }, { accessToken })) };
    }),
  );

  router.delete(
    "/:id",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      await deps.chat.deleteChat({ id: String(request.params.id) }, { accessToken });
      return {};
    }),
  );

  router.get(
    "/:id/messages",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      const query = parseQuery(messagesQuery, request.query);
      const list = await deps.chat.listMessages(
        { chatId: String(request.params.id), before: query.before, after: query.after, limit: query.limit },
        { accessToken },
      );
      return { body: { items: list.items.map(messageJson) } };
    }),
  );

  router.post(
    "/:id/messages/:messageId/stop",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      await deps.chat.stopMessage({ chatId: String(request.params.id), messageId: String(request.params.messageId) }, { accessToken });
      return {};
    }),
  );

  // Sending streams Server-Sent Events. Everything that can refuse the message (validation, not
  // found, silenced, quota) happens before the first event, so it still answers with a plain problem.
  router.post(
    "/:id/messages",
    admit(deps.completions),
    route(async (request, response) => {
      const context = contextOf(response);
      const body = parseBody(sendBody, request.body);
      const persist = persistWhenChanged(response, deps);
      const { accessToken } = await authenticate(request, context, deps).finally(persist);

      // The client going away cancels the call; the chat service then keeps the partial answer as aborted.
      const cancel = new AbortController();
      // Only a client that left before the end cancels the call (aborting costs an exception object).
      response.on("close", () => {
        if (!response.writableFinished) cancel.abort();
      });
      const events = deps.chat
        .sendMessage(
          { chatId: String(request.params.id), content: body.content, clientMessageId: body.clientMessageId, source: "web" },
          { accessToken, signal: cancel.signal },
        )
        [Symbol.asyncIterator]();
      let next = await events.next();

      const stream = startEventStream(response);
      const writeEvent = ({ event, data }: z.output<typeof StreamEvent>) => stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      const heartbeat = setInterval(() => stream.write(": keep-alive\n\n"), 15_000);
      try {
        for (; !next.done; next = await events.next()) {
          const event = next.value;
          if (event.message) writeEvent({ event: "message", data: { ...messageJson(event.message), replyMessageId: event.replyMessageId } });
          else if (event.delta !== undefined) writeEvent({ event: "delta", data: { text: event.delta } });
          else if (event.done)
            writeEvent({ event: "done", data: { message: event.done.message ? messageJson(event.done.message) : null, usage: usageJson(event.done.usage) } });
        }
      } catch (error) {
        if (!cancel.signal.aborted) writeEvent({ event: "error", data: toProblem(error, request.originalUrl) });
      } finally {
        clearInterval(heartbeat);
        stream.end();
      }
    }),
  );

  return router;
}
