import { validationFailed } from "@tessera/platform";
import { MAX_MESSAGE_LENGTH, type Caller, type Owner } from "../domain/chat.ts";
import type { PromptMessage, UpstreamChunk } from "../domain/ports.ts";
import { usageOf, type TokenUsage, type UsageRecord } from "../domain/usage.ts";
import type { ChatDependencies } from "./dependencies.ts";
import { admitSend } from "./admit-send.ts";
import { resolveModel } from "./models.ts";

export type CompletionEvent =
  { type: "started"; id: string; model: string; created: number } | { type: "delta"; text: string } | { type: "done"; finishReason: string; usage: TokenUsage };

export interface CompletionInput {
  model: string;
  messages: PromptMessage[];
  parameters: Record<string, unknown>;
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
    const model = await resolveModel(deps.models, owner.tenantId, input.model);
    const { reservationId, release } = await admitSend(deps, caller);
    const controller = new AbortController();
    const onCallerGone = () => controller.abort("cancelled");
    signal.addEventListener("abort", onCallerGone, { once: true });
    if (signal.aborted) onCallerGone();
    const iterator = deps.llm
      .stream({ tenantId: owner.tenantId, model, messages: input.messages, parameters: input.parameters }, controller.signal)
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
    let content = "";
    let finishReason = "stop";
    let upstreamUsage: TokenUsage | undefined;
    let failure: unknown;
    try {
      for (; !next.done; next = await iterator.next()) {
        const chunk = next.value;
        if (chunk.type === "delta" && chunk.text.length > 0) {
          content += chunk.text;
          yield { type: "delta", text: chunk.text };
        } else if (chunk.type === "usage") upstreamUsage = chunk.usage;
        else if (chunk.type === "finish") finishReason = chunk.reason;
      }
    } catch (error) {
      if (!controller.signal.aborted) failure = error;
    } finally {
      signal.removeEventListener("abort", onCallerGone);
    }

    const outcome = failure !== undefined ? "failed" : controller.signal.aborted ? "aborted" : "complete";
    const usage =
      upstreamUsage && outcome === "complete"
        ? upstreamUsage
        : usageOf(upstreamUsage?.promptTokens ?? deps.tokens.countPrompt(input.messages), deps.tokens.countText(content));
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
    await deps.completions.record(record);
    deps.usageRecorded();
    if (failure !== undefined) throw failure;
    yield { type: "done", finishReason, usage };
  };
}

export type CompleteForApi = ReturnType<typeof createCompleteForApi>;
