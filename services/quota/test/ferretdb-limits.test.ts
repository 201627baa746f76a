import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newUuid } from "@tessera/platform";
import { createMongoUsageRollups } from "../src/adapters/mongo/mongo-usage-rollups.ts";
import { startQuotaHarness, uniqueUserId, type QuotaHarness } from "./harness.ts";

// The MongoDB-compatible server behaviours the rollup store relies on or works around. The first
// two pin FerretDB v1 limits (skipped on real MongoDB, which has neither problem).
let harness: QuotaHarness;
let isFerretDb = false;

beforeAll(async () => {
  harness = await startQuotaHarness();
  const info = await harness.mongo.connection.db!.admin().command({ buildInfo: 1 });
  isFerretDb = "ferretdbVersion" in info;
});
afterAll(() => harness?.close());

describe("MongoDB-compatible server behaviour the rollups depend on", () => {
  it("FerretDB v1 loses concurrent $inc updates of one document, so one consumer writes rollups, one journal at a time", async (context) => {
    if (!isFerretDb) context.skip();
    const collection = harness.mongo.connection.db!.collection<{ _id: string; n: number }>("pin_concurrent_inc");
    await collection.insertOne({ _id: "one", n: 0 });
    await Promise.all(Array.from({ length: 40 }, () => collection.updateOne({ _id: "one" }, { $inc: { n: 1 } })));
    expect((await collection.findOne({ _id: "one" }))!.n).toBeLessThan(40);
  });

  it("FerretDB v1 answers 0 for a second $sum in one $group, so totals use one accumulator per $group", async (context) => {
    if (!isFerretDb) context.skip();
    const collection = harness.mongo.connection.db!.collection("pin_group_sums");
    await collection.insertMany([
      { k: 1, a: 2, b: 3 },
      { k: 1, a: 5, b: 7 },
    ]);
    const [both] = await collection.aggregate([{ $group: { _id: null, a: { $sum: "$a" }, b: { $sum: "$b" } } }]).toArray();
    expect(both).toMatchObject({ a: 7, b: 0 });
    const [single] = await collection.aggregate([{ $group: { _id: null, b: { $sum: "$b" } } }]).toArray();
    expect(single).toMatchObject({ b: 10 });
  });

  it("a journal written twice (a crash before it was closed) lands in the rollup once; the next one adds", async () => {
    const rollups = createMongoUsageRollups(harness.mongo.connection);
    const key = { tenantId: "t1", userId: uniqueUserId(), day: "2026-03-10" };
    const delta = (keys: string[]) => ({
      key,
      messages: 2,
      tokens: 20,
      byModel: { "gpt.4o": { messages: 1, tokens: 10 }, $mini: { messages: 1, tokens: 10 } },
      usageKeys: keys,
    });
    const first = { id: newUuid(), deltas: [delta(["e:1", "r:2"])] };
    await rollups.applyJournal(first);
    await rollups.applyJournal(first);
    expect(await rollups.read(key)).toMatchObject({ messages: 2, tokens: 20, recentKeys: ["e:1", "r:2"] });
    await rollups.applyJournal({ id: newUuid(), deltas: [delta(["e:3"])] });
    const usage = await rollups.read(key);
    expect({ messages: usage.messages, tokens: usage.tokens, recentKeys: usage.recentKeys }).toEqual({ messages: 4, tokens: 40, recentKeys: ["e:3"] });
    expect(usage.byModel).toEqual({ "gpt.4o": { messages: 2, tokens: 20 }, $mini: { messages: 2, tokens: 20 } });
  });

  it("day totals add every user's messages and tokens", async () => {
    const rollups = createMongoUsageRollups(harness.mongo.connection);
    const day = "2026-03-11";
    for (const [userId, tokens] of [
      ["a", 5],
      ["b", 7],
      ["c", 11],
    ] as const) {
      await rollups.applyJournal({
        id: newUuid(),
        deltas: [{ key: { tenantId: "t-totals", userId, day }, messages: 1, tokens, byModel: { m: { messages: 1, tokens } }, usageKeys: [`e:${newUuid()}`] }],
      });
    }
    expect(await rollups.dayTotals("t-totals", day)).toEqual({ messages: 3, tokens: 23 });
  });
});
