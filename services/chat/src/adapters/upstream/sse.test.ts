import { describe, expect, it } from "vitest";
import { parseSse, parseSseBatches } from "./sse.ts";

async function* chunks(...parts: string[]) {
  for (const part of parts) yield new TextEncoder().encode(part);
}

const collect = async (iterable: AsyncIterable<unknown>) => {
  const items = [];
  for await (const item of iterable) items.push(item);
  return items;
};

describe("parseSse", () => {
  it("joins events split across network chunks and CRLF line ends", async () => {
    const events = await collect(parseSse(chunks('data: {"a":', "1}\r\n\r\nevent: delta\ndata: x\ndata: y\n\n", ": comment\n\ndata: [DONE]\n\n")));
    expect(events).toEqual([
      { event: "message", data: '{"a":1}' },
      { event: "delta", data: "x\ny" },
      { event: "message", data: "[DONE]" },
    ]);
  });

  it("reads a CRLF split between two network chunks as one line end", async () => {
    expect(await collect(parseSse(chunks("data: a\r", "\ndata: b\r\n\r", "\n")))).toEqual([{ event: "message", data: "a\nb" }]);
  });

  it("hands over the events of each network read together", async () => {
    const batches = await collect(parseSseBatches(chunks("data: 1\n\ndata: 2\n\ndata: 3", "\n\n", ": only a comment\n\n", "data: 4")));
    expect(batches).toEqual([
      [
        { event: "message", data: "1" },
        { event: "message", data: "2" },
      ],
      [{ event: "message", data: "3" }],
      [{ event: "message", data: "4" }],
    ]);
  });

  it("keeps a final event that lacks the closing blank line", async () => {
    expect(await collect(parseSse(chunks("data: last")))).toEqual([{ event: "message", data: "last" }]);
  });

  it("decodes multi-byte characters split between chunks", async () => {
    const bytes = new TextEncoder().encode("data: привет\n\n");
    async function* split() {
      yield bytes.slice(0, 8);
      yield bytes.slice(8);
    }
    expect(await collect(parseSse(split()))).toEqual([{ event: "message", data: "привет" }]);
  });
});
