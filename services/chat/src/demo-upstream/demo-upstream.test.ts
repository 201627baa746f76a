import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSse } from "../adapters/upstream/sse.ts";
import { startDemoUpstream, type DemoUpstream } from "./demo-upstream.ts";

let upstream: DemoUpstream;
beforeAll(async () => {
  upstream = await startDemoUpstream({ tokenDelayMs: 0 });
});
afterAll(() => upstream.close());

const post = (key: string, body: object) =>
  fetch(`${upstream.url}/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "demo-echo", ...body }),
  });

describe("demo upstream", () => {
  it("streams the answer word by word and reports usage when asked", async () => {
    const response = await post("good", { messages: [{ role: "user", content: "[words=3]" }], stream: true, stream_options: { include_usage: true } });
    const data = [];
    for await (const event of parseSse(response.body as unknown as AsyncIterable<Uint8Array>)) data.push(event.data);
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((line) => JSON.parse(line));
    expect(chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? "").join("")).toBe("w1 w2 w3");
    expect(chunks.at(-1).usage).toEqual({ prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
  });

  it("fails as its keys say", async () => {
    expect((await post("fail-429", { messages: [] })).status).toBe(429);
    expect((await post("fail-500", { messages: [] })).status).toBe(500);
    expect((await post("fail-401", { messages: [] })).status).toBe(401);
    expect(upstream.requests["fail-429"]).toBe(1);
  });

  it("answers without streaming and honours max_tokens", async () => {
    const body = (await (await post("good", { messages: [{ role: "user", content: "[words=10]" }], max_tokens: 4 })).json()) as {
      choices: Array<{ message: { content: string }; finish_reason: string }>;
    };
    expect(body.choices[0]).toMatchObject({ message: { content: "w1 w2 w3 w4" }, finish_reason: "length" });
  });
});
