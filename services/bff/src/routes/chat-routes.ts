import { Router, type Response } from "express";
import type { Chat, Message, Usage } from "@tessera/proto/tessera/chat/v1/chat";
import { toProblem } from "@tessera/platform";
import type { ChatClient } from "../adapters/chat-client.ts";
import type { BrowserAuth } from "../application/browser-auth.ts";
import type { BrowserSessionStore } from "../application/browser-session.ts";
import { pageQuery } from "../http/pagination.ts";
import { route } from "../http/problem.ts";
import { commitBrowserSession, contextOf, withActiveAccount, type CookieSettings, type ActiveAccountDependencies } from "../http/request-context.ts";
import { parseBody, parseQuery, z } from "../http/validate.ts";

export const chatJson = (chat: Chat) => ({ id: chat.id, title: chat.title, model: chat.model, createdAt: chat.createdAt, updatedAt: chat.updatedAt });
export const messageJson = (message: Message) => ({
  id: message.id,
  clientMessageId: message.clientMessageId,
  seq: message.seq,
  role: message.role,
  content: message.content,
  model: message.model,
  status: message.status,
  promptTokens: message.promptTokens,
  completionTokens: message.completionTokens,
  createdAt: message.createdAt,
});
const usageJson = (usage: Usage | undefined) => ({
  promptTokens: usage?.promptTokens ?? 0,
  completionTokens: usage?.completionTokens ?? 0,
  totalTokens: usage?.totalTokens ?? 0,
});

const chatBody = z.object({ title: z.string().max(200).optional(), model: z.string().min(1).max(200).optional() }).strict();
const sendBody = z.object({ content: z.string().min(1).max(32_000), clientMessageId: z.string().min(1).max(100) }).strict();
const seq = z.coerce.number().int().min(0).optional();
const messagesQuery = z.object({ before: seq, after: seq, limit: pageQuery.limit });

interface ChatRouteDependencies extends ActiveAccountDependencies {
  auth: BrowserAuth;
  store: BrowserSessionStore;
  cookie: CookieSettings;
  chat: ChatClient;
}

const writeEvent = (response: Response, event: string, data: unknown) => response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

/** Models, chats and messages of the active account (API.md "Chat and quota"). */
export function modelRoutes(deps: ChatRouteDependencies): Router {
  const router = Router();
  router.get(
    "/",
    withActiveAccount(deps, async ({ accessToken }) => ({
      body: (await deps.chat.listModels({}, { accessToken })).items.map(({ id, name }) => ({ id, name })),
    })),
  );
  return router;
}

export function chatRoutes(deps: ChatRouteDependencies): Router {
  const router = Router();

  router.get(
    "/",
    withActiveAccount(deps, async ({ request, accessToken }) => {
      const query = parseQuery(z.object(pageQuery), request.query);
      const page = await deps.chat.listChats({ limit: query.limit, cursor: query.cursor ?? "" }, { accessToken });
      return { body: { items: page.items.map(chatJson), nextCursor: page.nextCursor || null } };
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
    route(async (request, response) => {
      const context = contextOf(response);
      const body = parseBody(sendBody, request.body);
      const before = JSON.stringify(context.browser);
      const accessToken = await deps.auth.accessToken(context.browser, context.tenant.id, context.client).finally(async () => {
        if (context.cookie && JSON.stringify(context.browser) !== before) await commitBrowserSession(response, deps, { keepEmpty: true });
      });

      // The client going away cancels the call; the chat service then keeps the partial answer as aborted.
      const cancel = new AbortController();
      response.on("close", () => cancel.abort());
      const events = deps.chat
        .sendMessage(
          { chatId: String(request.params.id), content: body.content, clientMessageId: body.clientMessageId, source: "web" },
          { accessToken, signal: cancel.signal },
        )
        [Symbol.asyncIterator]();
      let next = await events.next();

      response.status(200);
      response.setHeader("Content-Type", "text/event-stream; charset=utf-8");
      response.setHeader("Cache-Control", "no-store");
      response.setHeader("X-Accel-Buffering", "no");
      response.flushHeaders();
      const heartbeat = setInterval(() => response.write(": keep-alive\n\n"), 15_000);
      try {
        for (; !next.done; next = await events.next()) {
          const event = next.value;
          if (event.message) writeEvent(response, "message", { ...messageJson(event.message), replyMessageId: event.replyMessageId });
          else if (event.delta !== undefined) writeEvent(response, "delta", { text: event.delta });
          else if (event.done)
            writeEvent(response, "done", { message: event.done.message ? messageJson(event.done.message) : null, usage: usageJson(event.done.usage) });
        }
      } catch (error) {
        if (!cancel.signal.aborted) writeEvent(response, "error", toProblem(error, request.originalUrl));
      } finally {
        clearInterval(heartbeat);
        response.end();
      }
    }),
  );

  return router;
}
