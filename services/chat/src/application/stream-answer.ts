import { usageOf, type TokenUsage, type UsageOutcome } from "../domain/usage.ts";
import type { UpstreamChunk } from "../domain/ports.ts";
import type { ChatDependencies } from "./dependencies.ts";

/** How an answer ended, what it said and what it used (the usage to record). */
export interface AnswerOutcome {
  status: UsageOutcome;
  content: string;
  finishReason: string;
  usage: TokenUsage;
  /** Why the upstream failed, when it did (rethrown by the caller after the usage is recorded). */
  failure: unknown;
}

/**
 * The one "stream an answer, then account for it" loop of the web chat and the OpenAI-compatible
 * API: yields the answer's text as it comes, stops when `controller` aborts (a stop or the caller
 * gone), and returns the outcome with the upstream's usage, or one counted here when the upstream
 * gave none or the answer did not complete. Callers record the usage and then rethrow a failure.
 */
export async function* streamAnswer(
  deps: Pick<ChatDependencies, "tokens">,
  upstream: AsyncIterator<UpstreamChunk>,
  options: { controller: AbortController; estimatedPromptTokens: number; first?: IteratorResult<UpstreamChunk> },
): AsyncGenerator<string, AnswerOutcome> {
  const { controller } = options;
  let content = "";
  let finishReason = "stop";
  let upstreamUsage: TokenUsage | undefined;
  let failure: unknown;
  try {
    for (let next = options.first ?? (await upstream.next()); !next.done; next = await upstream.next()) {
      const chunk = next.value;
      if (chunk.type === "delta" && chunk.text.length > 0) {
        content += chunk.text;
        yield chunk.text;
      } else if (chunk.type === "usage") upstreamUsage = chunk.usage;
      else if (chunk.type === "finish") finishReason = chunk.reason;
      if (controller.signal.aborted) break;
    }
  } catch (error) {
    if (!controller.signal.aborted) failure = error;
  } finally {
    // Stopped early: the upstream request is closed.
    if (controller.signal.aborted) await upstream.return?.().catch(() => undefined);
  }
  const status: UsageOutcome = failure !== undefined ? "failed" : controller.signal.aborted ? "aborted" : "complete";
  const usage =
    upstreamUsage && status === "complete"
      ? upstreamUsage
      : usageOf(upstreamUsage?.promptTokens ?? options.estimatedPromptTokens, deps.tokens.countText(content));
  return { status, content, finishReason, usage, failure };
}

/**
 * Tokens to reserve before a request: its prompt plus the most it may generate, that maximum
 * bounded (`maxCompletionTokens` when the request names none or more).
 */
export function estimateTokens(promptTokens: number, requestedMaxTokens: unknown, maxCompletionTokens: number): number {
  const requested = typeof requestedMaxTokens === "number" && Number.isFinite(requestedMaxTokens) && requestedMaxTokens > 0 ? requestedMaxTokens : maxCompletionTokens;
  return promptTokens + Math.min(Math.floor(requested), maxCompletionTokens);
}
