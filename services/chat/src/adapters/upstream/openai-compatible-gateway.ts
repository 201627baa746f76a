import { AppError } from "@tessera/platform";
import { failureOfStatus, type KeyFailure, type KeyPool } from "../../domain/key-pool.ts";
import type { LlmGateway, UpstreamChunk, UpstreamRequest } from "../../domain/ports.ts";
import type { ProviderDirectory, UpstreamProvider } from "../../domain/provider.ts";
import { parseSseBatches } from "./sse.ts";
import { UpstreamAddressRefused } from "./upstream-url-guard.ts";

export interface GatewayOptions {
  providers: ProviderDirectory;
  pool: KeyPool;
  /** A key that has not produced the first token by then is set aside and the next one tried. */
  firstTokenTimeoutMs: number;
  /** Longest silence between two chunks once the answer is flowing. */
  idleTimeoutMs: number;
  /** Longest wait for a whole answer asked for at once (not streamed); a key past it is set aside. */
  answerTimeoutMs: number;
  onKeyFailure?: (details: { providerId: string; keyId: string; failure: KeyFailure; status?: number }) => void;
  /** The guarded HTTP client (no internal addresses, no redirects): see upstream-url-guard.ts. */
  fetch: UpstreamFetch;
}

export interface UpstreamRequestInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** An upstream's answer as the gateway reads it. */
export interface UpstreamResponse {
  status: number;
  header(name: string): string | undefined;
  body: AsyncIterable<Uint8Array>;
  /** Reads and drops the rest of the body (it is never shown), freeing the connection. */
  discard(): Promise<void>;
}

/** An HTTP request as the gateway makes it; the guard's one refuses internal addresses and never follows redirects. */
export type UpstreamFetch = (url: string, init: UpstreamRequestInit) => Promise<UpstreamResponse>;

const isAddressRefused = (error: unknown): boolean => {
  for (let current = error; current instanceof Error; current = current.cause) if (current instanceof UpstreamAddressRefused) return true;
  return false;
};

interface OpenAiCompletion {
  choices?: Array<{ message?: { content?: string | null }; finish_reason?: string | null }>;
  usage?: OpenAiChunk["usage"];
}

interface OpenAiChunk {
  choices?: Array<{ delta?: { content?: string | null }; finish_reason?: string | null }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } | null;
  error?: { message?: string };
}

class KeyFailed extends Error {
  readonly failure: KeyFailure;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(failure: KeyFailure, message: string, status?: number, retryAfterMs?: number) {
    super(message);
    this.failure = failure;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** A streamed chunk, or a whole answer (its message read as one delta), as the gateway's chunks. */
function chunksOf(parsed: OpenAiChunk | OpenAiCompletion): UpstreamChunk[] {
  const out: UpstreamChunk[] = [];
  for (const choice of parsed.choices ?? []) {
    const text = "delta" in choice ? choice.delta?.content : "message" in choice ? choice.message?.content : undefined;
    if (typeof text === "string" && text.length > 0) out.push({ type: "delta", text });
    if (choice.finish_reason) out.push({ type: "finish", reason: choice.finish_reason });
  }
  const usage = parsed.usage;
  if (usage && typeof usage.prompt_tokens === "number" && typeof usage.completion_tokens === "number") {
    out.push({
      type: "usage",
      usage: {
        promptTokens: usage.prompt_tokens,
        completionTokens: usage.completion_tokens,
        totalTokens: usage.total_tokens ?? usage.prompt_tokens + usage.completion_tokens,
      },
    });
  }
  return out;
}

// A whole answer larger than this is not a chat completion (OpenAI's longest are well under 1 MB).
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** A response body as text, refused past `limit` bytes. */
async function readText(body: AsyncIterable<Uint8Array>, limit: number): Promise<string> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const part of body) {
    size += part.byteLength;
    if (size > limit) throw new Error(`the upstream's answer exceeds ${limit} bytes`);
    parts.push(part);
  }
  return Buffer.concat(parts, size).toString("utf8");
}

const retryAfterMs = (header: string | undefined): number | undefined => {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
};

/**
 * Streams chat completions from OpenAI-compatible endpoints over a pool of keys: each request
 * starts on the next healthy key; a key answering 401/403/429/5xx, timing out or failing on the
 * network before the first token is set aside and the request goes to the next one.
 */
export function createOpenAiCompatibleGateway(options: GatewayOptions): LlmGateway {
  /** Opens the stream on one key and waits for its first token; the iterator then continues it. */
  async function open(provider: UpstreamProvider, key: { id: string; secret: string }, request: UpstreamRequest, signal: AbortSignal) {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    let timedOut = false;
    let timer = setTimeout(() => ((timedOut = true), controller.abort("timeout")), request.stream ? options.firstTokenTimeoutMs : options.answerTimeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    };
    const keyFailure = (error: unknown): never => {
      cleanup();
      if (signal.aborted) throw error;
      if (error instanceof KeyFailed || error instanceof AppError) throw error;
      // Not the key's fault and no other key would do better: the provider's address is refused.
      if (isAddressRefused(error))
        throw new AppError("upstream_address_refused", 502, "The model provider's address is not allowed.", { cause: error, expose: true });
      if (timedOut) throw new KeyFailed("timeout", "no first token in time");
      throw new KeyFailed("network", (error as Error).message ?? "network error");
    };

    let response: UpstreamResponse;
    try {
      response = await options.fetch(`${provider.baseUrl.replace(/\/+$/, "")}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream", ...(key.secret ? { authorization: `Bearer ${key.secret}` } : {}) },
        body: JSON.stringify({
          ...request.parameters,
          model: request.model,
          messages: request.messages,
          ...(request.stream ? { stream: true, stream_options: { include_usage: true } } : { stream: false }),
        }),
        signal: controller.signal,
      });
    } catch (error) {
      return keyFailure(error);
    }
    if (response.status >= 300 && response.status < 400) {
      cleanup();
      await response.discard();
      throw new AppError("upstream_redirect_refused", 502, "The model provider answered with a redirect, which is not followed.", { expose: true });
    }
    if (response.status < 200 || response.status >= 300) {
      // The body is the upstream's business: it is read (to free the connection) and never shown.
      await response.discard();
      const failure = failureOfStatus(response.status);
      cleanup();
      if (failure) throw new KeyFailed(failure, `upstream answered ${response.status}`, response.status, retryAfterMs(response.header("retry-after")));
      // The upstream refused the request itself (bad parameters): no other key would do better.
      throw new AppError("upstream_rejected", 400, `The model provider rejected the request (${response.status}).`);
    }
    if (!request.stream) {
      // The whole answer in one body: it is the "first token", so a key failing to give it is set aside.
      let chunks: UpstreamChunk[];
      try {
        const parsed = JSON.parse(await readText(response.body, MAX_ANSWER_BYTES)) as OpenAiCompletion & { error?: unknown };
        if (parsed.error || !Array.isArray(parsed.choices)) throw new Error("the upstream's answer holds no choices");
        chunks = chunksOf(parsed);
      } catch (error) {
        return keyFailure(error);
      }
      cleanup();
      return (async function* whole(): AsyncGenerator<UpstreamChunk> {
        yield* chunks;
      })();
    }
    const batches = parseSseBatches(response.body)[Symbol.asyncIterator]();
    let ended = false;
    /** The chunks of the next network read that carried any, consecutive deltas joined; null at the end. */
    const pull = async (): Promise<UpstreamChunk[] | null> => {
      while (!ended) {
        const next = await batches.next();
        if (next.done) return null;
        const out: UpstreamChunk[] = [];
        for (const event of next.value) {
          if (event.data === "[DONE]") {
            ended = true;
            break;
          }
          let parsed: OpenAiChunk;
          try {
            parsed = JSON.parse(event.data) as OpenAiChunk;
          } catch {
            continue;
          }
          if (parsed.error) throw new Error("the upstream reported an error mid-stream");
          for (const chunk of chunksOf(parsed)) {
            const last = out.at(-1);
            if (chunk.type === "delta" && last?.type === "delta") out[out.length - 1] = { type: "delta", text: last.text + chunk.text };
            else out.push(chunk);
          }
        }
        if (out.length > 0) return out;
      }
      return null;
    };
    let first: UpstreamChunk[] | null;
    try {
      first = await pull();
    } catch (error) {
      await batches.return?.(undefined).catch(() => undefined);
      return keyFailure(error);
    }
    clearTimeout(timer);

    async function* rest(): AsyncGenerator<UpstreamChunk> {
      try {
        if (!first) return;
        yield* first;
        for (;;) {
          timer = setTimeout(() => ((timedOut = true), controller.abort("idle timeout")), options.idleTimeoutMs);
          const chunks = await pull();
          clearTimeout(timer);
          if (!chunks) return;
          yield* chunks;
        }
      } catch (error) {
        if (signal.aborted) throw error;
        throw new AppError("upstream_interrupted", 502, timedOut ? "The model stopped answering mid-way." : "The connection to the model broke mid-way.", {
          cause: error,
          expose: true,
        });
      } finally {
        cleanup();
        controller.abort("done");
      }
    }
    return rest();
  }

  return {
    stream(request, signal) {
      return (async function* () {
        const providers = (await options.providers.providersFor(request.tenantId)).filter(
          (provider) => provider.models.some((model) => model.id === request.model) && provider.keys.length > 0,
        );
        if (providers.length === 0) throw new AppError("model_not_found", 404, `The model "${request.model}" is not offered here.`);
        // Every key of every provider serving the model is one pool.
        const keys = new Map<string, { provider: UpstreamProvider; key: { id: string; secret: string } }>(
          providers.flatMap((provider) => provider.keys.map((key) => [`${provider.id}/${key.id}`, { provider, key }] as const)),
        );
        let lastFailure: KeyFailed | undefined;
        for (const poolId of options.pool.order([...keys.keys()])) {
          if (signal.aborted) break;
          const { provider, key } = keys.get(poolId)!;
          let stream: AsyncGenerator<UpstreamChunk>;
          try {
            stream = await open(provider, key, request, signal);
          } catch (error) {
            if (!(error instanceof KeyFailed)) throw error;
            lastFailure = error;
            options.pool.setAside(poolId, error.failure, error.retryAfterMs);
            options.onKeyFailure?.({ providerId: provider.id, keyId: key.id, failure: error.failure, ...(error.status ? { status: error.status } : {}) });
            continue;
          }
          options.pool.markHealthy(poolId);
          yield* stream;
          return;
        }
        if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? "aborted"));
        throw new AppError("upstream_unavailable", 503, "The language model is not answering right now; try again shortly.", {
          cause: lastFailure,
          expose: true,
          retryAfterSeconds: 5,
        });
      })();
    },
  };
}
