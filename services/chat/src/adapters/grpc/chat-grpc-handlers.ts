import { overloaded, ownerOf as ownerOfCaller, validationFailed, type AdmissionLimit, type CallerVerifier, type ServiceHandlers } from "@tessera/platform";
import type { ChatServiceService, Message as MessageProto, Chat as ChatProto } from "@tessera/proto/tessera/chat/v1/chat";
import type { CompleteForApi } from "../../application/complete-for-api.ts";
import type { ChatManagement } from "../../application/manage-chats.ts";
import type { ProviderManagement } from "../../application/manage-providers.ts";
import type { ProviderSummary } from "../../domain/provider.ts";
import type { SendMessage } from "../../application/send-message.ts";
import type { Chat, ChatMessage, Owner } from "../../domain/chat.ts";
import type { ModelInfo } from "../../domain/ports.ts";
import type { TokenUsage } from "../../domain/usage.ts";

export interface ChatHandlerUseCases {
  chats: ChatManagement;
  listModels(tenantId: string): Promise<ModelInfo[]>;
  listMessages(
    owner: Owner,
    input: { chatId: string; before?: number | undefined; after?: number | undefined; limit?: number | undefined },
  ): Promise<ChatMessage[]>;
  sendMessage: SendMessage;
  stopMessage(owner: Owner, chatId: string, messageId: string): Promise<void>;
  complete: CompleteForApi;
  providers: ProviderManagement;
}

const providerProto = (provider: ProviderSummary) => ({
  id: provider.id,
  name: provider.name,
  baseUrl: provider.baseUrl,
  models: provider.models,
  keys: provider.keys,
  origin: provider.origin,
  updatedAt: provider.updatedAt.toISOString(),
});

const chatProto = (chat: Chat): ChatProto => ({
  id: chat.id,
  title: chat.title,
  model: chat.model,
  createdAt: chat.createdAt.toISOString(),
  updatedAt: chat.updatedAt.toISOString(),
});
const messageProto = (message: ChatMessage): MessageProto => ({
  id: message.id,
  clientMessageId: message.clientMessageId,
  seq: message.seq,
  role: message.role,
  content: message.content,
  model: message.model,
  status: message.status,
  promptTokens: message.promptTokens,
  completionTokens: message.completionTokens,
  createdAt: message.createdAt.toISOString(),
});
const usageProto = (usage: TokenUsage) => ({ promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, totalTokens: usage.totalTokens });

function parseParameters(json: string): Record<string, unknown> {
  if (!json) return {};
  try {
    const value = JSON.parse(json) as unknown;
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw validationFailed([{ field: "parameters", message: "Must be a JSON object." }]);
}

/**
 * Runs one answer (sendMessage, complete) within the bound on answers in flight in this process,
 * or refuses it before any work with 503 `overloaded` and Retry-After, which the BFF passes on as
 * its own over-bound answer. The slot is held until the handler is done: a web answer whose
 * caller left still runs to its end (it is finished as aborted and counted).
 */
async function withinBound(answers: AdmissionLimit, run: () => Promise<void>): Promise<void> {
  const release = answers.tryAcquire();
  if (!release) throw overloaded();
  try {
    await run();
  } finally {
    release();
  }
}

/** Translates gRPC calls into use cases; every call acts for the verified caller (access token or API key). */
export function chatGrpcHandlers(
  useCases: ChatHandlerUseCases,
  verifyCaller: CallerVerifier,
  answers: AdmissionLimit,
): ServiceHandlers<typeof ChatServiceService> {
  const ownerOf = async (token: string | undefined): Promise<Owner> => ownerOfCaller(await verifyCaller(token));
  const callerOf = verifyCaller;
  return {
    listModels: async (_request, context) => ({ items: await useCases.listModels((await ownerOf(context.bearerToken)).tenantId) }),
    listChats: async (request, context) => {
      const page = await useCases.chats.list(await ownerOf(context.bearerToken), request.limit, request.cursor);
      return { items: page.items.map(chatProto), nextCursor: page.nextCursor };
    },
    createChat: async (request, context) =>
      chatProto(await useCases.chats.create(await ownerOf(context.bearerToken), { title: request.title, model: request.model })),
    getChat: async (request, context) => chatProto(await useCases.chats.get(await ownerOf(context.bearerToken), request.id)),
    updateChat: async (request, context) =>
      chatProto(await useCases.chats.update(await ownerOf(context.bearerToken), request.id, { title: request.title, model: request.model })),
    deleteChat: async (request, context) => {
      await useCases.chats.delete(await ownerOf(context.bearerToken), request.id);
      return {};
    },
    listMessages: async (request, context) => {
      const items = await useCases.listMessages(await ownerOf(context.bearerToken), {
        chatId: request.chatId,
        before: request.before,
        after: request.after,
        limit: request.limit,
      });
      return { items: items.map(messageProto) };
    },
    sendMessage: (request, emit, context) => withinBound(answers, async () => {
      const caller = await callerOf(context.bearerToken);
      const source = request.source === "api" ? "api" : "web";
      // Run to the end even when the caller went away: the answer is then finished as aborted and counted.
      // A delta carries all the text of one network read from the model (the gateway joins them).
      for await (const event of useCases.sendMessage(
        caller,
        { chatId: request.chatId, content: request.content, clientMessageId: request.clientMessageId, source },
        context.signal,
      )) {
        if (event.type === "delta") emit({ delta: event.text, replyMessageId: "" });
        else if (event.type === "message") emit({ message: messageProto(event.message), replyMessageId: event.replyMessageId });
        else emit({ done: { message: messageProto(event.message), usage: usageProto(event.usage) }, replyMessageId: "" });
      }
    }),
    stopMessage: async (request, context) => {
      await useCases.stopMessage(await ownerOf(context.bearerToken), request.chatId, request.messageId);
      return {};
    },
    listProviders: async (_request, context) => ({ items: (await useCases.providers.list(await verifyCaller(context.bearerToken))).map(providerProto) }),
    saveProvider: async (request, context) =>
      providerProto(
        await useCases.providers.save(await verifyCaller(context.bearerToken), {
          id: request.id,
          name: request.name,
          baseUrl: request.baseUrl,
          models: request.models,
          addKeys: request.addKeys,
          removeKeyIds: request.removeKeyIds,
        }),
      ),
    deleteProvider: async (request, context) => {
      await useCases.providers.delete(await verifyCaller(context.bearerToken), request.id);
      return {};
    },
    complete: (request, emit, context) => withinBound(answers, async () => {
      const caller = await callerOf(context.bearerToken);
      const input = {
        model: request.model,
        messages: request.messages.map((turn) => ({ role: turn.role, content: turn.content, ...(turn.name ? { name: turn.name } : {}) })),
        parameters: parseParameters(request.parametersJson),
        stream: request.stream,
      };
      for await (const event of useCases.complete(caller, input, context.signal)) {
        if (event.type === "delta") emit({ delta: event.text });
        else if (event.type === "started") emit({ started: { id: event.id, model: event.model, created: event.created } });
        else emit({ done: { finishReason: event.finishReason, usage: usageProto(event.usage) } });
      }
    }),
  };
}
