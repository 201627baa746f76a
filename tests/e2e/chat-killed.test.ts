import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient, startTestSystem, type TestSystem } from "@tessera/platform/testing";
import { startDemoUpstream, type DemoUpstream } from "../../services/chat/src/demo-upstream/demo-upstream.ts";

// A chat process killed in the middle of an answer never settles its reservation: the quota
// service charges it at its estimate when it expires (here after 3 s), once, never for free.
let system: TestSystem;
let upstream: DemoUpstream;
const MAX_TOKENS = 300;

beforeAll(async () => {
  // 50 ms per word: a 200-word answer is still streaming when the process is killed.
  upstream = await startDemoUpstream({ tokenDelayMs: 50 });
  system = await startTestSystem({
    DEFAULT_LLM_BASE_URL: upstream.url,
    DEFAULT_LLM_API_KEYS: "good",
    DEFAULT_LLM_MODELS: "demo-echo",
    QUOTA_RESERVATION_TTL_SECONDS: "3",
    QUOTA_EXPIRY_SWEEP_MS: "200",
  });
});

afterAll(async () => {
  await system?.stopAll();
  await upstream?.close();
});

const json = async <T = any>(response: Response): Promise<T> => (await response.json()) as T;
const today = () => new Date().toISOString().slice(0, 10);

describe("a chat process killed mid-answer", () => {
  it("has the answer charged at its estimate once the reservation expires, counted once", async () => {
    const browser = new HttpClient(system.baseUrl);
    const suffix = Date.now().toString(36);
    const registered = await browser.post("/api/v1/auth/register", {
      email: `killed${suffix}@example.com`,
      username: `killed${suffix}`,
      password: "a perfectly fine passphrase",
    });
    expect(registered.status).toBe(201);
    const key = (await json(await browser.post("/api/v1/me/api-keys", { name: "sdk" }))).key as string;

    const response = await fetch(`${system.baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "demo-echo", stream: true, max_tokens: MAX_TOKENS, messages: [{ role: "user", content: "[words=200] tell me" }] }),
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let received = "";
    while (!/\bw3\b/.test(received)) {
      const { value, done } = await reader.read();
      expect(done).toBe(false);
      received += decoder.decode(value, { stream: true });
    }

    await system.stop("chat", "SIGKILL");
    // The stream ends one way or another; what matters is what was charged.
    await reader.cancel().catch(() => undefined);

    const usageOfToday = async () => (await json(await browser.get("/api/v1/me/usage"))).days.at(-1) as { date: string; messages: number; tokens: number };
    const deadline = Date.now() + 30_000;
    let day = await usageOfToday();
    while (day.tokens === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      day = await usageOfToday();
    }
    expect(day.date).toBe(today());
    // Charged at the estimate: the prompt's tokens plus the max_tokens asked for (a few words had streamed).
    expect(day.messages).toBe(1);
    expect(day.tokens).toBeGreaterThanOrEqual(MAX_TOKENS);
    expect(day.tokens).toBeLessThan(MAX_TOKENS + 50);

    // A restarted chat process and more sweeps count nothing more.
    await system.start("chat");
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await usageOfToday()).toEqual(day);
    const quota = await json(await browser.get("/api/v1/quota"));
    expect(quota.messages.used).toBe(1);
    expect(quota.tokens.used).toBe(day.tokens);
  });
});
