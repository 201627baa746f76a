import { readFileSync } from "node:fs";
import { countTokens } from "gpt-tokenizer";
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

  it("counts exactly what gpt-tokenizer's o200k_base counts", () => {
    const plain = { disallowedSpecial: new Set<string>() };
    const samples = [
      "a <|endoftext|> b <|im_start|>",
      "🤖🤖 emoji 👨‍👩‍👧 👍🏽",
      "日本語のテキストです。中文 한국어 Привет мир العربية",
      "x\uD800y \uDC00 lone surrogates",
      "don't WON'T we'LL I'd",
      "=".repeat(700),
      " ".repeat(300) + "a\n\n\n\tb",
      "1234567890123 3.14159 0xdeadbeef",
      "Ünïcödé façade naïve",
    ];
    // A fixed pseudo-random mix of scripts, digits, punctuation, whitespace and surrogates.
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const pools = [
      "abcdefghijklmnopqrstuvwxyz",
      "ABCDEFGHIJ klmnop",
      " \n\t\r",
      "0123456789",
      ".,;:!?-_=+*/\\'\"()[]{}<>|",
      "äöüßéèêçñ",
      "日本語中文한국어",
      "😀🤖👍🏽",
      "\uD800\uDC00\uDFFF",
      "Привет",
      "العربية",
    ].map((pool) => [...pool]);
    for (let sample = 0; sample < 3000; sample += 1) {
      let text = "";
      for (let length = Math.floor(random() * 60); length > 0; length -= 1) {
        const pool = pools[Math.floor(random() * pools.length)]!;
        text += pool[Math.floor(random() * pool.length)]! + (random() < 0.3 ? " " : "");
      }
      samples.push(text);
    }
    const source = readFileSync(new URL("./compact-bpe.ts", import.meta.url), "utf8");
    samples.push(source);
    const differing = samples.filter((text) => gptTokenCounter.countText(text) !== countTokens(text, plain));
    expect(differing).toEqual([]);
  });
});
