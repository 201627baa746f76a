import { describe, expect, it } from "vitest";
import { parseJournal } from "./redis-live-counters.ts";

// Entries as the apply script writes them: "<rollup id>|<messages>|<tokens>|<key bytes>|<usage key><model>".
const entry = (rollupId: string, messages: number, tokens: number, usageKey: string, model: string) =>
  Buffer.from(`${rollupId}|${messages}|${tokens}|${Buffer.byteLength(usageKey)}|${usageKey}${model}`);

describe("parseJournal", () => {
  it("sums a journal's entries per user-day and model, keeping every usage key in order", () => {
    const journal = parseJournal("j1", [
      entry("t1/u1/2026-12-03", 1, 100, "e:a", "gpt.4o"),
      entry("t1/u2/2026-12-03", 0, 7, "r:b|c", "m|x"),
      entry("t1/u1/2026-12-03", 1, 50, "r:ü-1", "modèle"),
      entry("t1/u1/2026-12-03", 1, 25, "e:d", "gpt.4o"),
    ]);
    expect(journal).toEqual({
      id: "j1",
      deltas: [
        {
          key: { tenantId: "t1", userId: "u1", day: "2026-12-03" },
          messages: 3,
          tokens: 175,
          byModel: { "gpt.4o": { messages: 2, tokens: 125 }, modèle: { messages: 1, tokens: 50 } },
          usageKeys: ["e:a", "r:ü-1", "e:d"],
        },
        {
          key: { tenantId: "t1", userId: "u2", day: "2026-12-03" },
          messages: 0,
          tokens: 7,
          byModel: { "m|x": { messages: 0, tokens: 7 } },
          usageKeys: ["r:b|c"],
        },
      ],
    });
  });

  it("still reads a journal an earlier version left (a hash of sums and a list of usage keys)", () => {
    const journal = parseJournal(
      "j0",
      [entry("t1/u1/2026-12-03", 1, 10, "e:new", "m")],
      { "t1/u1/2026-12-03|m": "2", "t1/u1/2026-12-03|t": "30", "t1/u1/2026-12-03|m:m": "2", "t1/u1/2026-12-03|t:m": "30" },
      ["t1/u1/2026-12-03|e:old1", "t1/u1/2026-12-03|e:old2"],
    );
    expect(journal.deltas).toEqual([
      {
        key: { tenantId: "t1", userId: "u1", day: "2026-12-03" },
        messages: 3,
        tokens: 40,
        byModel: { m: { messages: 3, tokens: 40 } },
        usageKeys: ["e:new", "e:old1", "e:old2"],
      },
    ]);
  });
});
