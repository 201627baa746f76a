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

/** The most tokens one answer may take, and whether the tenant chose it (rather than the installation's default). */
export interface AnswerTokenLimit {
  max: number;
  tenantSet: boolean;
}

/** The tenant's own maximum of tokens per answer, else the installation's (from the tenant-settings cache). */
export async function answerTokenLimit(deps: Pick<ChatDependencies, "tenantSettings" | "maxCompletionTokens">, tenantId: string): Promise<AnswerTokenLimit> {
  const own = await deps.tenantSettings.maxCompletionTokens(tenantId);
  return own === null ? { max: deps.maxCompletionTokens, tenantSet: false } : { max: own, tenantSet: true };
}

const MAX_TOKEN_PARAMETERS = ["max_completion_tokens", "max_tokens"] as const;
const isTokenCount = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value) && value > 0;

/**
 * The request's parameters as the model receives them: a `max_tokens` or `max_completion_tokens`
 * above the limit is lowered to it, so the reserved estimate really bounds what the answer uses. A
 * request naming neither gets the limit as `max_tokens` only when the tenant set one; otherwise the
 * model's own default applies, as it always did (the estimate still assumes the installation's).
 */
export function limitAnswerTokens(parameters: Record<string, unknown>, limit: AnswerTokenLimit): Record<string, unknown> {
  const limited = { ...parameters };
  let named = false;
  for (const name of MAX_TOKEN_PARAMETERS) {
    const value = parameters[name];
    if (!isTokenCount(value)) continue;
    named = true;
    if (value > limit.max) limited[name] = limit.max;
  }
  if (!named && limit.tenantSet) limited.max_tokens = limit.max;
  return limited;
}

/**
 * Tokens to reserve before a request: its prompt plus the most it may generate (the larger of
 * `max_completion_tokens` and `max_tokens` when named), bounded by `maxCompletionTokens`, which
 * is also what is assumed when the request names neither.
 */
export function estimateTokens(promptTokens: number, parameters: Record<string, unknown>, maxCompletionTokens: number): number {
  const named = MAX_TOKEN_PARAMETERS.map((name) => parameters[name]).filter(isTokenCount);
  const requested = named.length > 0 ? Math.max(...named) : maxCompletionTokens;
  return promptTokens + Math.min(Math.floor(requested), maxCompletionTokens);
}
