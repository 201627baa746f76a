import { describe, expect, it } from "vitest";
import { gptTokenCounter } from "./gpt-token-counter.ts";

describe("gptTokenCounter", () => {
  it("counts text tokens, special-token strings included as plain text", () => {
    expect(gptTokenCounter.countText("")).toBe(0);
    expect(gptTokenCounter.countText("hello world")).toBe(2);
    expect(gptTokenCounter.countText("a <|endoftext|> b")).toBeGreaterThan(3);
  });

  it("adds the chat format's per-message overhead to prompts", () => {
    const one = gptTokenCounter.countPrompt([{ role: "user", content: "hello world" }]);
    const two = gptTokenCounter.countPrompt([
      { role: "user", content: "hello world" },
      { role: "assistant", content: "hello world" },
    ]);
    expect(one).toBe(2 + 3 + 3);
    expect(two - one).toBe(5);
  });
});
