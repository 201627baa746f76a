import { validationFailed } from "@tessera/platform";
import { MAX_MESSAGE_LENGTH, type Caller, type Owner } from "../domain/chat.ts";
import type { PromptMessage, UpstreamChunk } from "../domain/ports.ts";
import type { TokenUsage, UsageRecord } from "../domain/usage.ts";
import type { ChatDependencies } from "./dependencies.ts";
import { admitSend } from "./admit-send.ts";
import { resolveModel } from "./models.ts";
import { answerTokenLimit, estimateTokens, limitAnswerTokens, streamAnswer } from "./stream-answer.ts";

export type CompletionEvent =
  { type: "started"; id: string; model: string; created: number } | { type: "delta"; text: string } | { type: "done"; finishReason: string; usage: TokenUsage };

export interface CompletionInput {
  model: string;
  messages: PromptMessage[];
  parameters: Record<string, unknown>;
  /** false: the caller wants the whole answer at once, so the upstream is asked for it that way. */
  stream: boolean;
}

const ROLES = new Set(["system", "developer", "user", "assistant", "tool"]);

/**
 * A stateless completion for the OpenAI-compatible API, under the same quota as the web chat.
 * Nothing is emitted until the upstream produced its first chunk, so every failure before that
 * (quota, model, all keys down) is an ordinary error response; its usage record is kept.
 */
export function createCompleteForApi(deps: ChatDependencies) {
  return async function* complete(caller: Caller, input: CompletionInput, signal: AbortSignal): AsyncGenerator<CompletionEvent> {
    const owner: Owner = { tenantId: caller.tenantId, userId: caller.userId };
    if (input.messages.length === 0) throw validationFailed([{ field: "messages", message: "Send at least one message." }]);
    input.messages.forEach((message, index) => {
      if (!ROLES.has(message.role)) throw validationFailed([{ field: `messages[${index}].role`, message: "Unknown role." }]);
    });
    if (input.messages.reduce((total, message) => total + message.content.length, 0) > MAX_MESSAGE_LENGTH * 8) {
      throw validationFailed([{ field: "messages", message: "The conversation is too long." }]);
    }
    const [model, limit] = await Promise.all([resolveModel(deps.models, owner.tenantId, input.model), answerTokenLimit(deps, owner.tenantId)]);
    const parameters = limitAnswerTokens(input.parameters, limit);
    const promptTokens = deps.tokens.countPrompt(input.messages);
    const estimate = estimateTokens(promptTokens, parameters, limit.max);
    const { reservationId, release } = await admitSend(deps, caller, estimate, { model, source: "api" });
    const controller = new AbortController();
    const onCallerGone = () => controller.abort("cancelled");
    signal.addEventListener("abort", onCallerGone, { once: true });
    if (signal.aborted) onCallerGone();
    const iterator = deps.llm
      .stream({ tenantId: owner.tenantId, model, messages: input.messages, parameters, stream: input.stream }, controller.signal)
      [Symbol.asyncIterator]();
    let next: IteratorResult<UpstreamChunk>;
    try {
      next = await iterator.next();
    } catch (error) {
      signal.removeEventListener("abort", onCallerGone);
      await release();
      throw error;
    }

    const id = `chatcmpl-${deps.newUuid().replaceAll("-", "")}`;
    yield { type: "started", id, model, created: Math.floor(deps.clock.now().getTime() / 1000) };
    const answer = streamAnswer(deps, iterator, { controller, estimatedPromptTokens: promptTokens, first: next });
    let step = await answer.next();
    try {
      for (; !step.done; step = await answer.next()) yield { type: "delta", text: step.value };
    } finally {
      signal.removeEventListener("abort", onCallerGone);
    }
    const { status: outcome, usage, failure, finishReason } = step.value;
    const record: UsageRecord = {
      eventId: deps.newUuid(),
      occurredAt: deps.clock.now(),
      ...owner,
      chatId: "",
      messageId: id,
      model,
      usage,
      source: "api",
      outcome,
      reservationId,
    };
    // The answer does not wait for the broker's confirm: the recorder finishes it (a graceful stop
    // waits for it), and if the process dies first the reservation is charged at its estimate.
    void deps.completions.record(record);
    deps.usageRecorded();
    if (failure !== undefined) throw failure;
    yield { type: "done", finishReason, usage };
  };
}

export type CompleteForApi = ReturnType<typeof createCompleteForApi>;
