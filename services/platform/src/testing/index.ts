import { randomBytes } from "node:crypto";
import { inject } from "vitest";

/** A name no other test file (or earlier run) uses: databases, key prefixes, exchanges, queues. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

/** URLs of the real servers, each file isolated by its own database and key prefix. */
export function testInfrastructure(prefix = "t") {
  const name = uniqueName(prefix);
  const mongo = new URL(inject("mongoUrl"));
  mongo.pathname = `/${name}`;
  return {
    name,
    mongoUrl: mongo.toString(),
    redisUrl: inject("redisUrl"),
    amqpUrl: inject("amqpUrl"),
    redisKeyPrefix: `${name}:`,
  };
}

/** Secrets for a test system. */
export function testSecrets() {
  return {
    INTERNAL_GRPC_TOKEN: randomBytes(24).toString("base64url"),
    SECRETS_KEYRING: `k1:${randomBytes(32).toString("base64")}`,
  };
}

export { startTestSystem, type TestSystem } from "./test-system.ts";
export { HttpClient } from "./http-client.ts";
export { expectStatus, loadUser } from "./load-user.ts";

/** The AppError code a promise rejects with, or "ok" (tests compare outcomes in one line). */
export async function outcomeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    return typeof (error as { code?: unknown })?.code === "string" ? (error as { code: string }).code : String(error);
  }
}
