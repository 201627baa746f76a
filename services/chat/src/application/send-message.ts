import { AppError, notFound, toAppError } from "@tessera/platform";
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

/** How long finishing an answer waits out a data-store outage: the client already has the whole answer. */
const FINISH_THROUGH_OUTAGE_MS = 15_000;

/** Runs a save again while the data store is briefly unreachable (a restart), then gives up. */
async function throughOutage<T>(save: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + FINISH_THROUGH_OUTAGE_MS;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await save();
    } catch (error) {
      if (toAppError(error).status !== 503 || Date.now() + delay > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

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
    // Every read is scoped by owner, so a stored message is found only in the caller's own chat.
    // The history is read now, not after the reservation: the estimate must hold the whole prompt,
    // or parallel sends into long chats would overshoot the token cap by more than one answer.
    const [chat, existing, latest] = await Promise.all([
      deps.chats.find(owner, input.chatId),
      deps.messages.findByClientId(owner, input.chatId, input.clientMessageId),
      deps.messages.list(owner, input.chatId, { limit: deps.historyMessages }),
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

    const parameters = limitAnswerTokens({}, limit);
    const promptOf = (history: ChatMessage[], last: { role: ChatMessage["role"]; content: string }): PromptMessage[] => [
      ...history
        .filter((message) => message.content.length > 0 && message.status !== "failed" && message.status !== "streaming")
        .map((message) => ({ role: message.role, content: message.content })),
      { role: last.role, content: last.content },
    ];
    const estimatedPromptTokens = deps.tokens.countPrompt(promptOf(latest, { role: "user", content: input.content }));
    const { reservationId, release } = await admitSend(deps, caller, estimateTokens(estimatedPromptTokens, parameters, limit.max), {
      model: chat.model,
      source: input.source,
    });

    let userMessage: ChatMessage;
    let reply: ChatMessage;
    let prompt: PromptMessage[];
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
      const inserted = await deps.messages.insertUserMessage(userMessage);
      if (inserted === "duplicate") {
        await release();
        const stored = await deps.messages.findByClientId(owner, chat.id, input.clientMessageId);
        if (!stored) throw notFound("message");
        return yield* replay(owner, stored, signal);
      }
      // A send racing this one into the same chat may have taken sequence numbers since the read.
      prompt = promptOf(
        latest.filter((message) => message.seq < firstSeq),
        userMessage,
      );
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
    let saving: Promise<void> | undefined;
    const checkpoints = setInterval(() => {
      if (saving) return;
      saving = deps.messages
        .checkpoint(reply.id, content, deps.clock.now())
        .then(({ stopRequested }) => void (stopRequested && controller.abort("stopped")))
        .catch(() => undefined)
        .finally(() => (saving = undefined));
    }, deps.checkpointIntervalMs);

    const upstream = deps.llm.stream({ tenantId: owner.tenantId, model: chat.model, messages: prompt, parameters, stream: true }, controller.signal)[Symbol.asyncIterator]();
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
      // A save still under way must land before the answer is finished, never after it.
      await saving;
    }

    const { status, usage, failure } = step.value;
    const finishedAt = deps.clock.now();
    if (failure !== undefined && content.length === 0) {
      // Nothing was generated: the message is not counted.
      await throughOutage(() => deps.messages.finish(reply.id, { status: "failed", content: "", usage: usageOf(0, 0), finishedAt }, null));
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
    // A finish that reached the store but whose reply was lost reads as finished elsewhere: the
    // reservation is then charged at its estimate when it expires, never given back.
    const finished = await throughOutage(() => deps.messages.finish(reply.id, { status, content, usage, finishedAt }, record));
    if (finished) deps.usageRecorded();
    const stored: ChatMessage = finished
      ? { ...reply, status, content, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens }
      : ((await deps.messages.find(owner, chat.id, reply.id)) ?? reply);
    if (failure !== undefined) throw failure;
    yield { type: "done", message: stored, usage: usageOf(stored.promptTokens, stored.completionTokens) };
  };
}

export type SendMessage = ReturnType<typeof createSendMessage>;
