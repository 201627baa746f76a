import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local OpenAI-compatible server for development, tests and benchmarks: it answers by echoing
 * the last user message word by word, reports usage, and misbehaves on request by API key:
 * "fail-401", "fail-429" and "fail-500" always fail with that status, "slow" waits `slowDelayMs`
 * before answering, and a key ending in "-no-usage" never reports usage. In a user message,
 * "[words=N]" asks for an answer of N words.
 */
export interface DemoUpstreamOptions {
  port?: number;
  host?: string;
  /** Pause between two streamed words. */
  tokenDelayMs?: number;
  slowDelayMs?: number;
  models?: string[];
}

export interface DemoUpstream {
  /** Base URL including /v1, as DEFAULT_LLM_BASE_URL wants it. */
  url: string;
  port: number;
  /** Completion requests received, per API key. */
  requests: Record<string, number>;
  close(): Promise<void>;
}

export const DEMO_MODEL = "demo-echo";

interface ChatRequest {
  model?: string;
  messages?: Array<{ role?: string; content?: unknown }>;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
  max_completion_tokens?: number;
}

const textOf = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
      ? content.map((part) => (part && typeof part === "object" && "text" in part ? String(part.text) : "")).join("")
      : "";

const wordsIn = (text: string) => text.split(/\s+/).filter(Boolean).length;

/** The words of the answer, each streamed as one chunk (and counted as one token). */
export function demoAnswer(messages: ChatRequest["messages"]): string[] {
  const last = [...(messages ?? [])].reverse().find((message) => message.role === "user");
  const text = textOf(last?.content).trim();
  const wanted = /\[words=(\d{1,5})\]/.exec(text);
  if (wanted) return Array.from({ length: Number(wanted[1]) }, (_, index) => `${index === 0 ? "" : " "}w${index + 1}`);
  const words = `Echo: ${text.replace(/\s+/g, " ")}`.split(" ").slice(0, 200);
  return words.map((word, index) => (index === 0 ? word : ` ${word}`));
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
}

export async function startDemoUpstream(options: DemoUpstreamOptions = {}): Promise<DemoUpstream> {
  const tokenDelayMs = options.tokenDelayMs ?? 15;
  const slowDelayMs = options.slowDelayMs ?? 10_000;
  const models = options.models ?? [DEMO_MODEL];
  const requests: Record<string, number> = {};
  let sequence = 0;

  const server = createServer((request, response) => {
    const closed = new AbortController();
    response.on("close", () => closed.abort());
    void (async () => {
      const url = new URL(request.url ?? "/", "http://localhost");
      if (request.method === "GET" && url.pathname === "/v1/models") {
        return sendJson(response, 200, { object: "list", data: models.map((id) => ({ id, object: "model", created: 0, owned_by: "tessera-demo" })) });
      }
      if (request.method === "GET" && url.pathname === "/__stats") return sendJson(response, 200, { requests });
      if (request.method !== "POST" || url.pathname !== "/v1/chat/completions")
        return sendJson(response, 404, { error: { message: "not found", type: "invalid_request_error" } });

      const key = (request.headers.authorization ?? "").replace(/^Bearer\s+/i, "");
      requests[key] = (requests[key] ?? 0) + 1;
      let body: ChatRequest;
      try {
        body = (await readJson(request)) as ChatRequest;
      } catch {
        return sendJson(response, 400, { error: { message: "invalid JSON", type: "invalid_request_error" } });
      }
      if (key === "fail-401")
        return sendJson(response, 401, { error: { message: "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key" } });
      if (key === "fail-429") return sendJson(response, 429, { error: { message: "Rate limit reached.", type: "requests", code: "rate_limit_exceeded" } });
      if (key === "fail-500") return sendJson(response, 500, { error: { message: "The server had an error.", type: "server_error" } });
      if (!body.model || !models.includes(body.model))
        return sendJson(response, 404, {
          error: { message: `The model ${body.model} does not exist.`, type: "invalid_request_error", code: "model_not_found" },
        });
      if (key === "slow") await sleep(slowDelayMs, closed.signal);
      if (closed.signal.aborted) return;

      const limit = body.max_completion_tokens ?? body.max_tokens;
      const all = demoAnswer(body.messages);
      const words = limit !== undefined && limit > 0 ? all.slice(0, limit) : all;
      const finishReason = words.length < all.length ? "length" : "stop";
      const promptTokens = (body.messages ?? []).reduce((total, message) => total + 3 + wordsIn(textOf(message.content)), 3);
      const usage = { prompt_tokens: promptTokens, completion_tokens: words.length, total_tokens: promptTokens + words.length };
      const reportUsage = !key.endsWith("-no-usage");
      const id = `chatcmpl-demo${++sequence}`;
      const created = Math.floor(Date.now() / 1000);

      if (!body.stream) {
        await sleep(tokenDelayMs * words.length, closed.signal);
        return sendJson(response, 200, {
          id,
          object: "chat.completion",
          created,
          model: body.model,
          choices: [{ index: 0, message: { role: "assistant", content: words.join("") }, finish_reason: finishReason }],
          ...(reportUsage ? { usage } : {}),
        });
      }
      response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
      const chunk = (choices: unknown[], extra: object = {}) =>
        response.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices, ...extra })}\n\n`);
      chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]);
      for (const word of words) {
        await sleep(tokenDelayMs, closed.signal);
        if (closed.signal.aborted) return;
        chunk([{ index: 0, delta: { content: word }, finish_reason: null }]);
      }
      chunk([{ index: 0, delta: {}, finish_reason: finishReason }]);
      if (reportUsage && body.stream_options?.include_usage) chunk([], { usage });
      response.end("data: [DONE]\n\n");
    })().catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, { error: { message: String(error), type: "server_error" } });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}/v1`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
