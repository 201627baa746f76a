import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient, startTestSystem, type TestSystem } from "@tessera/platform/testing";
import { startDemoUpstream, type DemoUpstream } from "../../services/chat/src/demo-upstream/demo-upstream.ts";

// Bounded admission at the edge: past BFF_MAX_COMPLETIONS_IN_FLIGHT completions in flight (the
// /v1 route and the web send together) the BFF answers at once, 503 with Retry-After, and a slot
// is free again as soon as its response has ended or its client has gone away.
const BOUND = 3;
let system: TestSystem;
let upstream: DemoUpstream;
const admin = { email: "admission-admin@example.com", username: "admissionadmin", password: "administering admission" };

beforeAll(async () => {
  // The upstream holds every answer for a minute (its "slow" key) unless the request goes away.
  upstream = await startDemoUpstream({ tokenDelayMs: 0, slowDelayMs: 60_000 });
  system = await startTestSystem({
    DEFAULT_LLM_BASE_URL: upstream.url,
    DEFAULT_LLM_API_KEYS: "slow",
    DEFAULT_LLM_MODELS: "demo-echo",
    FIRST_ADMIN_EMAIL: admin.email,
    FIRST_ADMIN_USERNAME: admin.username,
    FIRST_ADMIN_PASSWORD: admin.password,
    BFF_MAX_COMPLETIONS_IN_FLIGHT: String(BOUND),
  });
});

afterAll(async () => {
  await system?.stopAll();
  await upstream?.close();
});

const json = async <T = any>(response: Response): Promise<T> => (await response.json()) as T;
const completion = (key: string, signal?: AbortSignal, body: object = { model: "demo-echo", messages: [{ role: "user", content: "hold" }], stream: true }) =>
  fetch(`${system.baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
const reachedUpstream = () => upstream.requests.slow ?? 0;

async function eventually(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let apiKey = "";
/**
 * Waits until all slots are free again: a probe with an invalid body is answered 400 once
 * admitted, 503 while the bound is full; BOUND probes at once must all be admitted.
 */
async function settled(): Promise<void> {
  const probe = () => completion(apiKey, undefined, { model: "demo-echo", messages: [] }).then((response) => response.status);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const statuses = await Promise.all(Array.from({ length: BOUND }, probe));
    if (statuses.every((status) => status === 400)) return;
    if (Date.now() > deadline) throw new Error(`the bound was not free again 10 s after the aborts: ${statuses.join(", ")}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts requests that the upstream holds and waits until all have reached it (so all were
 * admitted). A /v1 answer has not even begun then; a web send has (its stream opens with the
 * stored message), so 200 is the only status one of them may have answered until abort().
 */
async function hold(start: Array<(signal: AbortSignal) => Promise<Response>>) {
  const before = reachedUpstream();
  const controller = new AbortController();
  const refusals: number[] = [];
  const answers = start.map((run) =>
    run(controller.signal).then(
      (response) => {
        if (response.status !== 200) refusals.push(response.status);
        return response.status;
      },
      () => "aborted" as const,
    ),
  );
  await eventually(() => reachedUpstream() >= before + start.length || refusals.length > 0, `${start.length} requests reached the upstream`);
  expect(refusals).toEqual([]);
  return {
    /** Aborts them all, then waits until the BFF has seen them go (a socket's close reaches it a little after the client's abort). */
    async abort() {
      controller.abort();
      for (const answer of await Promise.all(answers)) expect(["aborted", 200]).toContain(answer);
      await settled();
    },
  };
}

describe("bounded admission of completions at the edge", () => {
  let key = "";
  let browser: HttpClient;
  let chatId = "";

  beforeAll(async () => {
    browser = new HttpClient(system.baseUrl);
    const registered = await browser.post("/api/v1/auth/register", {
      email: "admission@example.com",
      username: "admission",
      password: "a perfectly fine passphrase",
    });
    expect(registered.status).toBe(201);
    const root = new HttpClient(system.baseUrl);
    expect((await root.post("/api/v1/auth/login", { login: admin.username, password: admin.password })).status).toBe(200);
    const userId = (await json(registered)).user.id as string;
    expect((await root.patch(`/api/v1/admin/users/${userId}`, { maxMessagesPerDay: 10_000, maxTokensPerDay: 10_000_000 })).status).toBe(200);
    key = (await json(await browser.post("/api/v1/me/api-keys", { name: "admission" }))).key as string;
    apiKey = key;
    chatId = (await json(await browser.post("/api/v1/chats", {}))).chat.id as string;
  });

  let sent = 0;
  /** The web send as the PWA makes it (cookie, CSRF token, Origin), abortable. */
  const send = async (signal?: AbortSignal) => {
    const csrf = await browser.fetchCsrf();
    sent += 1;
    return fetch(`${system.baseUrl}/api/v1/chats/${chatId}/messages`, {
      method: "POST",
      headers: { cookie: browser.cookieHeader(), "x-csrf-token": csrf, origin: browser.origin(), "content-type": "application/json" },
      body: JSON.stringify({ content: "hold", clientMessageId: `admission-${sent}` }),
      ...(signal ? { signal } : {}),
    });
  };

  it("answers /v1 past the bound at once with 503 in OpenAI's format and Retry-After, and the web send with a 503 problem", async () => {
    // The bound is shared: two /v1 completions and one web answer fill it.
    const held = await hold([(signal) => completion(key, signal), (signal) => completion(key, signal), (signal) => send(signal)]);
    const started = performance.now();
    const refused = await completion(key);
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect((await json(refused)).error).toMatchObject({ type: "server_error", code: "overloaded", param: null });
    // Non-streamed requests are bounded the same way.
    const refusedWhole = await completion(key, undefined, { model: "demo-echo", messages: [{ role: "user", content: "hold" }] });
    expect([refusedWhole.status, refusedWhole.headers.get("retry-after")]).toEqual([503, "1"]);
    const refusedSend = await send();
    expect(refusedSend.status).toBe(503);
    expect(refusedSend.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(refusedSend.headers.get("retry-after")).toBe("1");
    expect(await json(refusedSend)).toMatchObject({ status: 503, type: "https://tessera.dev/problems/overloaded" });
    // Refused without waiting for anything (three answers, generous for a busy test machine).
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(reachedUpstream()).toBe(3);
    // Other routes are not bounded.
    expect((await browser.get("/api/v1/chats")).status).toBe(200);
    await held.abort();
  });

  it("frees the slots of clients that went away, and of requests that failed, as they end", async () => {
    // After the aborts above, the bound admits a full set again (and not one more).
    const held = await hold(Array.from({ length: BOUND }, () => (signal: AbortSignal) => completion(key, signal)));
    expect((await completion(key)).status).toBe(503);
    await held.abort();

    // Requests that fail after admission (an unknown model, an invalid body, a bad key) give their slot back.
    for (let round = 0; round < BOUND * 3; round += 1) {
      expect((await completion(key, undefined, { model: "no-such-model", messages: [{ role: "user", content: "x" }] })).status).toBe(404);
      expect((await completion(key, undefined, { model: "demo-echo", messages: [] })).status).toBe(400);
      expect((await completion("tsk_unknown_0000000000000000000000000")).status).toBe(401);
    }
    // Sends aborted by their clients give theirs back too.
    const sends = await hold(Array.from({ length: BOUND }, () => (signal: AbortSignal) => send(signal)));
    expect((await send()).status).toBe(503);
    await sends.abort();

    const again = await hold(Array.from({ length: BOUND }, () => (signal: AbortSignal) => completion(key, signal)));
    expect((await completion(key)).status).toBe(503);
    await again.abort();
  });
});
