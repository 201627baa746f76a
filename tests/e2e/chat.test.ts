import amqp from "amqplib";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { decodeUsageEvent, USAGE_EVENT_TYPE, EVENTS_EXCHANGE } from "@tessera/platform";
import { HttpClient, startTestSystem, uniqueName, type TestSystem } from "@tessera/platform/testing";
import { parseSse } from "../../services/chat/src/adapters/upstream/sse.ts";
import { startDemoUpstream, type DemoUpstream } from "../../services/chat/src/demo-upstream/demo-upstream.ts";
import { startTcpProxy } from "./support/tcp-proxy.ts";

// One system whose services reach RabbitMQ through a proxy the tests can take down, and whose
// upstream pool has one key answering 429, one 500, one too slow and one good.
let system: TestSystem;
let upstream: DemoUpstream;
let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
let broker: amqp.ChannelModel;
const namePrefix = `${uniqueName("chat")}.`;
const admin = { email: "chat-admin@example.com", username: "chatadmin", password: "administrating the chats" };
const operator = { email: "chat-ops@example.com", password: "operating the chat platform" };

beforeAll(async () => {
  upstream = await startDemoUpstream({ tokenDelayMs: 5, slowDelayMs: 30_000 });
  const amqpUrl = new URL(inject("amqpUrl"));
  proxy = await startTcpProxy({ host: amqpUrl.hostname, port: Number(amqpUrl.port || 5672) });
  broker = await amqp.connect(amqpUrl.toString());
  const proxied = new URL(amqpUrl);
  proxied.hostname = "127.0.0.1";
  proxied.port = String(proxy.port);
  system = await startTestSystem({
    AMQP_URL: proxied.toString(),
    AMQP_NAME_PREFIX: namePrefix,
    DEFAULT_LLM_BASE_URL: upstream.url,
    DEFAULT_LLM_API_KEYS: "fail-429,fail-500,slow,good",
    DEFAULT_LLM_MODELS: "demo-echo",
    UPSTREAM_FIRST_TOKEN_TIMEOUT_MS: "3000",
    UPSTREAM_KEY_COOLDOWN_MS: "600000",
    CHAT_CHECKPOINT_INTERVAL_MS: "100",
    USAGE_RELAY_INTERVAL_MS: "300",
    FIRST_ADMIN_EMAIL: admin.email,
    FIRST_ADMIN_USERNAME: admin.username,
    FIRST_ADMIN_PASSWORD: admin.password,
    OPERATOR_EMAIL: operator.email,
    OPERATOR_PASSWORD: operator.password,
  });
});

afterAll(async () => {
  await system?.stopAll();
  await broker?.close();
  await proxy?.stop();
  await upstream?.close();
});

let counter = 0;
const json = async <T = any>(response: Response): Promise<T> => (await response.json()) as T;
const signedIn = async () => {
  counter += 1;
  const suffix = `${Date.now().toString(36)}${counter}`;
  const browser = new HttpClient(system.baseUrl);
  const response = await browser.post("/api/v1/auth/register", {
    email: `chatter${suffix}@example.com`,
    username: `chatter${suffix}`,
    password: "a perfectly fine passphrase",
  });
  expect(response.status).toBe(201);
  return { browser, id: (await json(response)).user.id as string };
};
const asAdmin = async () => {
  const browser = new HttpClient(system.baseUrl);
  expect((await browser.post("/api/v1/auth/login", { login: admin.username, password: admin.password })).status).toBe(200);
  return browser;
};
const newChat = async (browser: HttpClient, body: object = {}) => {
  const response = await browser.post("/api/v1/chats", body);
  expect(response.status).toBe(201);
  return (await json(response)).chat as { id: string; title: string; model: string };
};

interface SseEvent {
  event: string;
  data: any;
}
/** Sends a message and reads its event stream; `onEvent` may act mid-stream (stop). */
const send = async (
  browser: HttpClient,
  chatId: string,
  content: string,
  clientMessageId: string,
  onEvent?: (event: SseEvent, index: number) => Promise<void>,
) => {
  const response = await browser.post(`/api/v1/chats/${chatId}/messages`, { content, clientMessageId });
  if (response.status !== 200) return { response, events: [] as SseEvent[] };
  expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const events: SseEvent[] = [];
  for await (const raw of parseSse(response.body as unknown as AsyncIterable<Uint8Array>)) {
    const event = { event: raw.event, data: JSON.parse(raw.data) };
    events.push(event);
    await onEvent?.(event, events.length - 1);
  }
  return { response, events };
};
const textOf = (events: SseEvent[]) =>
  events
    .filter((event) => event.event === "delta")
    .map((event) => event.data.text)
    .join("");
const doneOf = (events: SseEvent[]) =>
  events.find((event) => event.event === "done")?.data as {
    message: Record<string, any>;
    usage: { promptTokens: number; completionTokens: number; totalTokens: number };
  };
const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};

describe("chat through every layer", () => {
  it("fails over from keys answering 429, 500 and too slowly to a good one before the first token", async () => {
    const { browser } = await signedIn();
    const chat = await newChat(browser);
    const { response, events } = await send(browser, chat.id, "hello over the pool", "failover-1");
    expect(response.status).toBe(200);
    expect(textOf(events)).toBe("Echo: hello over the pool");
    expect(doneOf(events).message.status).toBe("complete");
    expect(upstream.requests).toMatchObject({ "fail-429": 1, "fail-500": 1, slow: 1, good: 1 });
    // Set aside: the next message goes straight to the good key.
    await send(browser, chat.id, "and again", "failover-2");
    expect(upstream.requests).toMatchObject({ "fail-429": 1, "fail-500": 1, slow: 1, good: 2 });
  });

  it("streams an answer as message, delta… and done events and keeps both messages", async () => {
    const { browser } = await signedIn();
    expect(await json(await browser.get("/api/v1/models"))).toEqual([{ id: "demo-echo", name: "demo-echo" }]);
    const chat = await newChat(browser);
    expect(chat).toMatchObject({ title: "New chat", model: "demo-echo" });
    const { events } = await send(browser, chat.id, "Tell me about   tesserae", "stream-1");
    expect(events[0]).toMatchObject({
      event: "message",
      data: { role: "user", content: "Tell me about   tesserae", clientMessageId: "stream-1", seq: 1, status: "complete" },
    });
    const done = doneOf(events);
    expect(done.message).toMatchObject({
      role: "assistant",
      seq: 2,
      status: "complete",
      content: "Echo: Tell me about tesserae",
      model: "demo-echo",
      id: events[0]!.data.replyMessageId,
    });
    // The demo upstream reports usage: 3 + (3 + 4 words) prompt tokens, one token per word.
    expect(done.usage).toEqual({ promptTokens: 10, completionTokens: 5, totalTokens: 15 });

    const history = await json(await browser.get(`/api/v1/chats/${chat.id}/messages`));
    expect(history.items.map((message: any) => [message.seq, message.role, message.status, message.content])).toEqual([
      [1, "user", "complete", "Tell me about   tesserae"],
      [2, "assistant", "complete", "Echo: Tell me about tesserae"],
    ]);
    expect(history.items[1]).toMatchObject({ promptTokens: 10, completionTokens: 5 });
    // The first message names the chat.
    expect((await json(await browser.get(`/api/v1/chats/${chat.id}`))).title).toBe("Tell me about tesserae");
    // The earlier exchange is part of the next prompt.
    await send(browser, chat.id, "more", "stream-2");
    const second = await json(await browser.get(`/api/v1/chats/${chat.id}/messages?after=2`));
    expect(second.items[1]).toMatchObject({ seq: 4, promptTokens: 3 + (3 + 4) + (3 + 5) + (3 + 1) });
    // A longer answer, its words 5 ms apart, arrives in pieces (what one network read carries is one delta).
    const longer = (await send(browser, (await newChat(browser)).id, "[words=60] go on", "stream-3")).events;
    expect(longer.filter((event) => event.event === "delta").length).toBeGreaterThan(1);
    expect(doneOf(longer).message.content).toBe(textOf(longer));
  });

  it("stops an answer half-way and keeps what came as aborted", async () => {
    const { browser } = await signedIn();
    const chat = await newChat(browser);
    let replyId = "";
    let stopped = 0;
    const { events } = await send(browser, chat.id, "[words=2000]", "stop-1", async (event) => {
      if (event.event === "message") replyId = event.data.replyMessageId;
      if (event.event === "delta" && ++stopped === 5) {
        expect((await browser.post(`/api/v1/chats/${chat.id}/messages/${replyId}/stop`)).status).toBe(204);
      }
    });
    const done = doneOf(events);
    expect(done.message.status).toBe("aborted");
    const kept = textOf(events);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.split(" ").length).toBeLessThan(2000);
    expect(done.message.content).toBe(kept);
    expect(done.usage.completionTokens).toBeGreaterThan(0);
    const history = await json(await browser.get(`/api/v1/chats/${chat.id}/messages`));
    expect(history.items[1]).toMatchObject({ id: replyId, status: "aborted", content: kept });
    // Stopping a finished answer changes nothing; an unknown message is 404.
    expect((await browser.post(`/api/v1/chats/${chat.id}/messages/${replyId}/stop`)).status).toBe(204);
    expect((await browser.post(`/api/v1/chats/${chat.id}/messages/000000000000000000000000/stop`)).status).toBe(404);
  });

  it("keeps the partial answer as aborted when the client goes away mid-stream", async () => {
    const { browser } = await signedIn();
    const chat = await newChat(browser);
    const csrf = await browser.fetchCsrf();
    const leaving = new AbortController();
    const response = await fetch(`${system.baseUrl}/api/v1/chats/${chat.id}/messages`, {
      method: "POST",
      headers: { cookie: browser.cookieHeader(), "x-csrf-token": csrf, origin: new URL(system.baseUrl).origin, "content-type": "application/json" },
      body: JSON.stringify({ content: "[words=3000]", clientMessageId: "gone-1" }),
      signal: leaving.signal,
    });
    let deltas = 0;
    let replyId = "";
    await (async () => {
      for await (const raw of parseSse(response.body as unknown as AsyncIterable<Uint8Array>)) {
        if (raw.event === "message") replyId = JSON.parse(raw.data).replyMessageId;
        if (raw.event === "delta" && ++deltas === 3) leaving.abort();
      }
    })().catch(() => undefined);
    const reply = await waitFor("the answer to stop", async () => {
      const items = (await json(await browser.get(`/api/v1/chats/${chat.id}/messages`))).items;
      const found = items.find((message: any) => message.id === replyId);
      return found && found.status !== "streaming" ? found : undefined;
    });
    expect(reply.status).toBe("aborted");
    expect(reply.content.length).toBeGreaterThan(0);
    expect(reply.content.split(" ").length).toBeLessThan(3000);
  });

  it("answers a repeated clientMessageId from what is stored, without calling the model again", async () => {
    const { browser } = await signedIn();
    const chat = await newChat(browser);
    const first = await send(browser, chat.id, "only once please", "retry-1");
    const calls = upstream.requests.good;
    const again = await send(browser, chat.id, "only once please", "retry-1");
    expect(upstream.requests.good).toBe(calls);
    expect(again.events[0]!.data.id).toBe(first.events[0]!.data.id);
    expect(doneOf(again.events).message).toEqual(doneOf(first.events).message);
    expect(textOf(again.events)).toBe("Echo: only once please");
    // Concurrent duplicates still store one exchange.
    await Promise.all([send(browser, chat.id, "twice at once", "retry-2"), send(browser, chat.id, "twice at once", "retry-2")]);
    const history = await json(await browser.get(`/api/v1/chats/${chat.id}/messages`));
    expect(history.items.map((message: any) => message.clientMessageId)).toEqual(["retry-1", "retry-1#reply", "retry-2", "retry-2#reply"]);
  });

  it("counts each message once in the daily quota, its tokens from the usage event", async () => {
    const { browser } = await signedIn();
    const chat = await newChat(browser);
    const { events } = await send(browser, chat.id, "count me once", "count-1");
    const { usage } = doneOf(events);
    const quota = () => browser.get("/api/v1/quota").then((response) => json(response));
    await waitFor("tokens in the quota", async () => ((await quota()).tokens.used === usage.totalTokens ? true : undefined));
    // A retry of the same message and a stop of a finished answer add nothing.
    await send(browser, chat.id, "count me once", "count-1");
    const second = doneOf((await send(browser, chat.id, "and me", "count-2")).events).usage;
    // While an answer is on its way its estimated tokens are held; they settle to the real usage.
    const after = await waitFor("the second message's tokens", async () => {
      const current = await quota();
      return current.tokens.used === usage.totalTokens + second.totalTokens ? current : undefined;
    });
    expect(after.tokens.used).toBe(usage.totalTokens + second.totalTokens);
    expect(after.messages.used).toBe(2);
  });

  it("pages history before and after a sequence number", async () => {
    const { browser } = await signedIn();
    const chat = await newChat(browser);
    for (let index = 1; index <= 4; index += 1) await send(browser, chat.id, `message ${index}`, `page-${index}`);
    const seqs = async (query: string) => (await json(await browser.get(`/api/v1/chats/${chat.id}/messages${query}`))).items.map((message: any) => message.seq);
    expect(await seqs("")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await seqs("?limit=3")).toEqual([6, 7, 8]);
    expect(await seqs("?before=6&limit=3")).toEqual([3, 4, 5]);
    expect(await seqs("?after=2&limit=3")).toEqual([3, 4, 5]);
    expect(await seqs("?after=8")).toEqual([]);
    expect((await browser.get(`/api/v1/chats/${chat.id}/messages?limit=101`)).status).toBe(400);
  });

  it("lists, renames and deletes chats, keeps maxChats and hides other users' chats", async () => {
    const { browser } = await signedIn();
    const chats = [];
    for (let index = 0; index < 10; index += 1) chats.push(await newChat(browser, { title: `chat ${index}` }));
    const refused = await browser.post("/api/v1/chats", {});
    expect(refused.status).toBe(409);
    expect(await json(refused)).toMatchObject({ type: "https://tessera.dev/problems/chat_limit_reached", maxChats: 10 });

    const firstPage = await json(await browser.get("/api/v1/chats?limit=4"));
    expect(firstPage.items.map((chat: any) => chat.title)).toEqual(["chat 9", "chat 8", "chat 7", "chat 6"]);
    const secondPage = await json(await browser.get(`/api/v1/chats?limit=4&cursor=${firstPage.nextCursor}`));
    expect(secondPage.items.map((chat: any) => chat.title)).toEqual(["chat 5", "chat 4", "chat 3", "chat 2"]);

    const renamed = await browser.patch(`/api/v1/chats/${chats[0]!.id}`, { title: "  Renamed  " });
    expect(await json(renamed)).toMatchObject({ id: chats[0]!.id, title: "Renamed" });
    expect((await browser.patch(`/api/v1/chats/${chats[0]!.id}`, { model: "gpt-imaginary" })).status).toBe(404);
    expect((await browser.patch(`/api/v1/chats/${chats[0]!.id}`, { colour: "red" })).status).toBe(400);
    expect((await browser.delete(`/api/v1/chats/${chats[1]!.id}`)).status).toBe(204);
    expect((await browser.get(`/api/v1/chats/${chats[1]!.id}`)).status).toBe(404);
    expect((await browser.post("/api/v1/chats", {})).status).toBe(201);

    const { browser: stranger } = await signedIn();
    const mine = chats[0]!.id;
    expect((await stranger.get(`/api/v1/chats/${mine}`)).status).toBe(404);
    expect((await stranger.get(`/api/v1/chats/${mine}/messages`)).status).toBe(404);
    expect((await stranger.patch(`/api/v1/chats/${mine}`, { title: "mine now" })).status).toBe(404);
    expect((await stranger.delete(`/api/v1/chats/${mine}`)).status).toBe(404);
    expect((await stranger.post(`/api/v1/chats/${mine}/messages`, { content: "hi", clientMessageId: "x" })).status).toBe(404);
    expect((await browser.get(`/api/v1/chats/${mine}`)).status).toBe(200);
  });

  it("refuses over quota with 429 before any stream, and silenced users with 403", async () => {
    const { browser, id } = await signedIn();
    const root = await asAdmin();
    expect((await root.patch(`/api/v1/admin/users/${id}`, { maxMessagesPerDay: 1 })).status).toBe(200);
    const chat = await newChat(browser);
    expect((await send(browser, chat.id, "the one message", "quota-1")).response.status).toBe(200);
    const calls = upstream.requests.good;
    const refused = await browser.post(`/api/v1/chats/${chat.id}/messages`, { content: "one more", clientMessageId: "quota-2" });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const problem = await json(refused);
    expect(problem).toMatchObject({ type: "https://tessera.dev/problems/quota_exceeded", status: 429 });
    expect(problem).toHaveProperty("limits");
    expect(problem).toHaveProperty("used");
    expect(problem).toHaveProperty("resetAt");
    expect(upstream.requests.good).toBe(calls);
    // The retry of the message that was sent is still answered (it is not a new message).
    expect((await send(browser, chat.id, "the one message", "quota-1")).response.status).toBe(200);

    expect((await root.patch(`/api/v1/admin/users/${id}`, { status: "silenced", maxMessagesPerDay: null })).status).toBe(200);
    const silenced = await browser.post(`/api/v1/chats/${chat.id}/messages`, { content: "let me speak", clientMessageId: "quota-3" });
    expect(silenced.status).toBe(403);
    expect((await json(silenced)).type).toBe("https://tessera.dev/problems/user_silenced");
    expect((await browser.get(`/api/v1/chats/${chat.id}/messages`)).status).toBe(200);
  });

  it("keeps usage events while RabbitMQ is unreachable and delivers them once it is back", async () => {
    const channel = await broker.createChannel();
    const queue = `${namePrefix}test.usage`;
    await channel.assertExchange(`${namePrefix}${EVENTS_EXCHANGE}`, "topic", { durable: true });
    await channel.assertQueue(queue, { durable: false, autoDelete: true });
    await channel.bindQueue(queue, `${namePrefix}${EVENTS_EXCHANGE}`, USAGE_EVENT_TYPE);
    try {
      const { browser, id } = await signedIn();
      const chat = await newChat(browser);
      await proxy.stop();
      const { events } = await send(browser, chat.id, "while the broker is away", "outage-1");
      const reply = doneOf(events).message;
      expect(reply.status).toBe("complete");
      // Nothing can have reached the broker yet.
      const early = await channel.get(queue, { noAck: false });
      const seenEarly = early ? decodeUsageEvent(early.content).payload?.messageId : undefined;
      expect(seenEarly).not.toBe(reply.id);

      await proxy.start();
      const event = await waitFor("the usage event", async () => {
        const message = await channel.get(queue, { noAck: true });
        if (!message) return undefined;
        const decoded = decodeUsageEvent(message.content);
        return decoded.payload?.messageId === reply.id ? { decoded, properties: message.properties } : undefined;
      });
      expect(event.properties).toMatchObject({ messageId: event.decoded.eventId, deliveryMode: 2, type: USAGE_EVENT_TYPE });
      expect(event.decoded).toMatchObject({ tenantId: "default", schemaVersion: 1 });
      expect(event.decoded.payload).toMatchObject({
        userId: id,
        chatId: chat.id,
        model: "demo-echo",
        source: "web",
        outcome: "complete",
        promptTokens: reply.promptTokens,
        completionTokens: reply.completionTokens,
      });
      expect(event.decoded.payload!.reservationId).not.toBe("");
    } finally {
      await channel.close();
    }
  });
});

describe("the OpenAI-compatible API with the official client", () => {
  const keyFor = async (browser: HttpClient) => (await json(await browser.post("/api/v1/me/api-keys", { name: "sdk" }))).key as string;
  const clientWith = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${system.baseUrl}/v1`, maxRetries: 0 });

  it("lists models and completes with and without streaming", async () => {
    const { browser } = await signedIn();
    const client = clientWith(await keyFor(browser));
    const models = await client.models.list();
    expect(models.data.map((model) => model.id)).toEqual(["demo-echo"]);

    const completion = await client.chat.completions.create({
      model: "demo-echo",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hello sdk" },
      ],
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.choices[0]).toMatchObject({ index: 0, finish_reason: "stop", message: { role: "assistant", content: "Echo: hello sdk" } });
    expect(completion.usage).toMatchObject({ prompt_tokens: 3 + (3 + 2) + (3 + 2), completion_tokens: 3, total_tokens: 16 });

    const stream = await client.chat.completions.create({
      model: "demo-echo",
      messages: [{ role: "user", content: "[words=6]" }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 4,
    });
    let text = "";
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      text += chunk.choices[0]?.delta?.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe("w1 w2 w3 w4");
    expect(finish).toBe("length");
    expect(usage).toMatchObject({ completion_tokens: 4 });
  });

  it("answers 401 for a bad key and a browser session is no key", async () => {
    await expect(clientWith("tsk_not-a-real-key").models.list()).rejects.toMatchObject({ status: 401, code: "invalid_api_key" });
    await expect(clientWith("sk-whatever").chat.completions.create({ model: "demo-echo", messages: [{ role: "user", content: "hi" }] })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    const { browser } = await signedIn();
    const viaCookie = await fetch(`${system.baseUrl}/v1/models`, { headers: { cookie: browser.cookieHeader() } });
    expect(viaCookie.status).toBe(401);
    expect(await json(viaCookie)).toMatchObject({ error: { type: "invalid_request_error", code: "invalid_api_key" } });
  });

  it("validates requests in OpenAI's error format", async () => {
    const { browser } = await signedIn();
    const client = clientWith(await keyFor(browser));
    await expect(client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] })).rejects.toMatchObject({
      status: 404,
      code: "model_not_found",
    });
    await expect(client.chat.completions.create({ model: "demo-echo", messages: [] })).rejects.toMatchObject({ status: 400, type: "invalid_request_error" });
  });

  it("accepts a key only on its own tenant's host", async () => {
    const ops = new HttpClient(system.baseUrl);
    expect((await ops.post("/api/v1/auth/login", { login: operator.email, password: operator.password })).status).toBe(200);
    const slug = `t${Date.now().toString(36)}`;
    // The operator grants it the platform's shared upstream (never given silently).
    expect((await ops.post("/api/v1/operator/tenants", { slug, name: "Other", domains: [`${slug}.localhost`], sharedUpstream: true })).status).toBe(201);
    const otherHost = `${slug}.localhost:${new URL(system.baseUrl).port}`;

    const { browser } = await signedIn();
    const defaultKey = await keyFor(browser);
    const onOtherHost = new HttpClient(system.baseUrl, { host: otherHost });
    const refused = await onOtherHost.get("/v1/models", { authorization: `Bearer ${defaultKey}` });
    expect(refused.status).toBe(401);
    expect(await json(refused)).toMatchObject({ error: { code: "invalid_api_key" } });

    // The other tenant's user chats with the shared upstream, and its key works on its host only.
    const registered = await onOtherHost.post("/api/v1/auth/register", {
      email: `b${slug}@example.com`,
      username: `b${slug}`,
      password: "a perfectly fine passphrase",
    });
    expect(registered.status).toBe(201);
    const otherKey = (await json(await onOtherHost.post("/api/v1/me/api-keys", { name: "b" }))).key as string;
    expect((await onOtherHost.get("/v1/models", { authorization: `Bearer ${otherKey}` })).status).toBe(200);
    expect(
      (await clientWith(otherKey)
        .models.list()
        .catch((error: unknown) => error)) as { status?: number },
    ).toMatchObject({ status: 401 });
    const chat = await newChat(onOtherHost);
    expect(textOf((await send(onOtherHost, chat.id, "from elsewhere", "other-1")).events)).toBe("Echo: from elsewhere");
    expect((await browser.get(`/api/v1/chats/${chat.id}`)).status).toBe(404);
  });

  it("applies the same daily quota: 429 with OpenAI's error body", async () => {
    const { browser, id } = await signedIn();
    const root = await asAdmin();
    expect((await root.patch(`/api/v1/admin/users/${id}`, { maxMessagesPerDay: 2 })).status).toBe(200);
    const client = clientWith(await keyFor(browser));
    const chat = await newChat(browser);
    await send(browser, chat.id, "one from the web", "shared-1");
    await client.chat.completions.create({ model: "demo-echo", messages: [{ role: "user", content: "one from the API" }] });
    const calls = upstream.requests.good;
    const refused = await client.chat.completions
      .create({ model: "demo-echo", messages: [{ role: "user", content: "one too many" }] })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect(refused).toMatchObject({ status: 429, code: "insufficient_quota", type: "insufficient_quota" });
    expect((refused as InstanceType<typeof OpenAI.RateLimitError>).headers.get("x-should-retry")).toBe("false");
    expect(upstream.requests.good).toBe(calls);
    expect((await browser.post(`/api/v1/chats/${chat.id}/messages`, { content: "and from the web", clientMessageId: "shared-2" })).status).toBe(429);
  });
});
