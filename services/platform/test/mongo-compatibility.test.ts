// Pins what the services rely on from the MongoDB-compatible server (FerretDB v1 here, MongoDB 8
// with Docker), so that a server change that breaks an assumption fails loudly.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMongo, createLogger, type Connection } from "@tessera/platform";
import { testInfrastructure } from "@tessera/platform/testing";

const infrastructure = testInfrastructure("compat");
let connection: Connection;
let close: () => Promise<void>;

beforeAll(async () => {
  const mongo = await connectMongo(infrastructure.mongoUrl, createLogger("test", "silent"));
  connection = mongo.connection;
  close = mongo.close;
});
afterAll(async () => {
  await connection?.dropDatabase();
  await close?.();
});

describe("MongoDB-compatible server", () => {
  it("reports unique-index violations as code 11000 (identity maps them to 409)", async () => {
    const users = connection.db!.collection("compat_users");
    await users.createIndex({ tenantId: 1, email: 1 }, { unique: true, name: "tenant_email_unique" });
    await users.insertOne({ _id: "a" as never, tenantId: "t", email: "x@example.com" });
    const error = await users.insertOne({ _id: "b" as never, tenantId: "t", email: "x@example.com" }).catch((caught: unknown) => caught);
    expect((error as { code: number }).code).toBe(11000);
    await expect(users.insertOne({ _id: "c" as never, tenantId: "u", email: "x@example.com" })).resolves.toBeTruthy();
  });

  // FerretDB v1 runs an update as a read and a separate write: racing conditional updates can all
  // "win" and racing $inc can lose increments (checked: 50 concurrent $inc gave 10). So nothing here
  // relies on update atomicity under concurrency; races are settled by unique-index inserts (this
  // test) or in Redis (refresh rotation claims its successor with SET NX before writing Mongo).
  it("lets exactly one of many racing inserts of the same key win (the primitive races are settled with)", async () => {
    const claims = connection.db!.collection("compat_claims");
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, index) => claims.insertOne({ _id: "claim" as never, by: index })));
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    expect(results.filter((result) => result.status === "rejected").every((result) => (result as PromiseRejectedResult).reason.code === 11000)).toBe(true);
  });

  it("has no multi-document transactions, so no code may depend on them", async () => {
    const session = connection.getClient().startSession();
    const attempt = session
      .withTransaction(async () => {
        await connection.db!.collection("compat_tx").insertOne({ value: 1 }, { session });
      })
      .then(
        () => "committed",
        () => "refused",
      );
    expect(await attempt).toBe("refused");
    await session.endSession();
  });

  it("sums one accumulator per $group correctly (two $sum in one $group returned 0 for the second on FerretDB v1)", async () => {
    const rollups = connection.db!.collection("compat_rollups");
    await rollups.insertMany([
      { day: "d1", tokens: 5 },
      { day: "d1", tokens: 7 },
      { day: "d2", tokens: 1 },
    ]);
    const totals = await rollups.aggregate([{ $group: { _id: "$day", tokens: { $sum: "$tokens" } } }, { $sort: { _id: 1 } }]).toArray();
    expect(totals).toEqual([
      { _id: "d1", tokens: 12 },
      { _id: "d2", tokens: 1 },
    ]);
  });
});
