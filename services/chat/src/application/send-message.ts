import { AppError, notFound } from "@tessera/platform";
import { DEFAULT_CHAT_TITLE, replyClientMessageId, titleFromMessage, validateNewMessage, type Caller, type ChatMessage, type Owner } from "../domain/chat.ts";
import type { PromptMessage } from "../domain/ports.ts";
import { usageOf, type TokenUsage, type UsageRecord, type UsageSource } from "../domain/usage.ts";
import type { ActiveStreams } from "./active-streams.ts";
import type { ChatDependencies } from "./dependencies.ts";
import { admitSend } from "./admit-send.ts";
import { resolveModel } from "./models.ts";
import { answerTokenLimit, estimateTokens, limitAnswerTokens, streamAnswer } from "./stream-answer.ts";

export type SendEvent =
  | { type: "message"; message: ChatMessage; replyMessageId: string }
  | { type: "delta"; text: string }
  | { type: "done"; message: ChatMessage; usage: TokenUsage };

export interface SendInput {
  chatId: string;
  content: string;
  clientMessageId: string;
  source: UsageSource;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });

/**
 * Sends a user message and streams the answer. Errors thrown before the first event (not found,
 * silenced, over quota) reach the caller before any stream starts; a repeated clientMessageId
 * replays the stored exchange without calling the upstream or the quota again.
 */
export function createSendMessage(deps: ChatDependencies, active: ActiveStreams) {
  async function* replay(owner: Owner, userMessage: ChatMessage, signal: AbortSignal): AsyncGenerator<SendEvent> {
    let reply = await deps.messages.findByClientId(owner, userMessage.chatId, replyClientMessageId(userMessage.clientMessageId));
    if (!reply) throw new AppError("send_incomplete", 409, "This message was stored but never answered; send it again with a new clientMessageId.");
    yield { type: "message", message: userMessage, replyMessageId: reply.id };
    // Another request is still writing this answer (a retry raced the original): wait for it.
    while (reply.status === "streaming" && !signal.aborted) {
      await sleep(deps.checkpointIntervalMs, signal);
      reply = (await deps.messages.find(owner, reply.chatId, reply.id)) ?? reply;
    }
    if (reply.content.length > 0) yield { type: "delta", text: reply.content };
    yield { type: "done", message: reply, usage: usageOf(reply.promptTokens, reply.completionTokens) };
  }

  return async function* sendMessage(caller: Caller, input: SendInput, signal: AbortSignal): AsyncGenerator<SendEvent> {
    const owner: Owner = { tenantId: caller.tenantId, userId: caller.userId };
    validateNewMessage(input.content, input.clientMessageId);
    // Both reads are scoped by owner, so a stored message is found only in the caller's own chat.
    const [chat, existing] = await Promise.all([
      deps.chats.find(owner, input.chatId),
      deps.messages.findByClientId(owner, input.chatId, input.clientMessageId),
    ]);
    if (!chat) throw notFound("chat");
    if (existing) return yield* replay(owner, existing, signal);

    const [, limit] = await Promise.all([
      resolveModel(deps.models, owner.tenantId, chat.model).catch((error: unknown) => {
        if (error instanceof AppError && error.code === "model_not_found")
          throw new AppError("model_unavailable", 409, `This chat's model (${chat.model}) is no longer offered; choose another one for the chat.`);
        throw error;
      }),
      answerTokenLimit(deps, owner.tenantId),
    ]);

    // The history is not read yet: the estimate counts the new message and the longest answer.
    const parameters = limitAnswerTokens({}, limit);
    const estimate = estimateTokens(deps.tokens.countText(input.content), parameters, limit.max);
    const { reservationId, release } = await admitSend(deps, caller, estimate);

    let userMessage: ChatMessage;
    let reply: ChatMessage;
    let prompt: PromptMessage[];
    let estimatedPromptTokens: number;
    try {
      const now = deps.clock.now();
      const firstSeq = await deps.chats.takeSequence(owner, chat.id, 2, now);
      if (firstSeq === null) throw notFound("chat");
      userMessage = {
        id: deps.newId(),
        ...owner,
        chatId: chat.id,
        clientMessageId: input.clientMessageId,
        seq: firstSeq,
        role: "user",
        content: input.content,
        model: chat.model,
        status: "complete",
        promptTokens: 0,
        completionTokens: 0,
        createdAt: now,
      };
      // The earlier messages are read while the new one is written (they do not depend on it).
      const [inserted, history] = await Promise.all([
        deps.messages.insertUserMessage(userMessage),
        deps.messages.list(owner, chat.id, { before: firstSeq, limit: deps.historyMessages }),
      ]);
      if (inserted === "duplicate") {
        await release();
        const stored = await deps.messages.findByClientId(owner, chat.id, input.clientMessageId);
        if (!stored) throw notFound("message");
        return yield* replay(owner, stored, signal);
      }
      prompt = [...history.filter((message) => message.content.length > 0 && message.status !== "failed" && message.status !== "streaming"), userMessage].map(
        (message) => ({ role: message.role, content: message.content }),
      );
      estimatedPromptTokens = deps.tokens.countPrompt(prompt);
      reply = {
        id: deps.newId(),
        ...owner,
        chatId: chat.id,
        clientMessageId: replyClientMessageId(input.clientMessageId),
        seq: firstSeq + 1,
        role: "assistant",
        content: "",
        model: chat.model,
        status: "streaming",
        promptTokens: 0,
        completionTokens: 0,
        createdAt: now,
        replyTo: userMessage.id,
      };
      await deps.messages.insertReply({ message: reply, reservationId, source: input.source, estimatedPromptTokens });
      if (firstSeq === 1 && chat.title === DEFAULT_CHAT_TITLE) await deps.chats.update(owner, chat.id, { title: titleFromMessage(input.content) }, now);
    } catch (error) {
      await release();
      throw error;
    }

    yield { type: "message", message: userMessage, replyMessageId: reply.id };

    // Stopped by the user (flag seen at a checkpoint or a local stop) or the caller went away.
    const controller = new AbortController();
    const onCallerGone = () => controller.abort("cancelled");
    signal.addEventListener("abort", onCallerGone, { once: true });
    if (signal.aborted) onCallerGone();
    const unregister = active.add([reply.id, userMessage.id], controller);
    let content = "";
    let saving = false;
    const checkpoints = setInterval(() => {
      if (saving) return;
      saving = true;
      deps.messages
        .checkpoint(reply.id, content, deps.clock.now())
        .then(({ stopRequested }) => stopRequested && controller.abort("stopped"))
        .catch(() => undefined)
        .finally(() => (saving = false));
    }, deps.checkpointIntervalMs);

    const upstream = deps.llm.stream({ tenantId: owner.tenantId, model: chat.model, messages: prompt, parameters }, controller.signal)[Symbol.asyncIterator]();
    const answer = streamAnswer(deps, upstream, { controller, estimatedPromptTokens });
    let step = await answer.next();
    try {
      for (; !step.done; step = await answer.next()) {
        content += step.value;
        yield { type: "delta", text: step.value };
      }
    } finally {
      clearInterval(checkpoints);
      unregister();
      signal.removeEventListener("abort", onCallerGone);
    }

    const { status, usage, failure } = step.value;
    const finishedAt = deps.clock.now();
    if (failure !== undefined && content.length === 0) {
      // Nothing was generated: the message is not counted.
      await deps.messages.finish(reply.id, { status: "failed", content: "", usage: usageOf(0, 0), finishedAt }, null);
      await release();
      throw failure;
    }
    const record: UsageRecord = {
      eventId: deps.newUuid(),
      occurredAt: finishedAt,
      ...owner,
      chatId: chat.id,
      messageId: reply.id,
      model: chat.model,
      usage,
      source: input.source,
      outcome: status,
      reservationId,
    };
    const finished = await deps.messages.finish(reply.id, { status, content, usage, finishedAt }, record);
    if (finished) deps.usageRecorded();
    const stored: ChatMessage = finished
      ? { ...reply, status, content, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens }
      : ((await deps.messages.find(owner, chat.id, reply.id)) ?? reply);
    if (failure !== undefined) throw failure;
    yield { type: "done", message: stored, usage: usageOf(stored.promptTokens, stored.completionTokens) };
  };
}

export type SendMessage = ReturnType<typeof createSendMessage>;
