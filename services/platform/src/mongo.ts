import type { Connection } from "mongoose";
export type { Connection } from "mongoose";
import type { Dependency } from "./health.ts";
import type { Logger } from "./logger.ts";

/** Opens a mongoose connection that keeps retrying in the background; readiness reports its state. */
export async function connectMongo(url: string, logger: Logger): Promise<{ connection: Connection; dependency: Dependency; close: () => Promise<void> }> {
  // Loaded on connect rather than with the platform: the BFF imports the platform but has no
  // document store, and mongoose with its driver cost ~25 MB resident.
  const { default: mongoose } = await import("mongoose");
  const connection = mongoose.createConnection(url, {
    serverSelectionTimeoutMS: 5_000,
    maxPoolSize: 20,
    // FerretDB v1 and MongoDB 8 both accept these; retryable writes need a replica set.
    retryWrites: false,
    autoIndex: true,
  });
  connection.on("disconnected", () => logger.warn("mongodb disconnected"));
  connection.on("reconnected", () => logger.info("mongodb reconnected"));
  await connection.asPromise();
  const redacted = new URL(url);
  redacted.password = redacted.password ? "***" : "";
  logger.info({ mongo: redacted.toString() }, "mongodb connected");
  return {
    connection,
    dependency: {
      name: "mongodb",
      check: async () => {
        const db = connection.db;
        if (!db) throw new Error("not connected");
        await db.command({ ping: 1 });
      },
    },
    close: () => connection.close(),
  };
}
