import { randomBytes, randomUUID } from "node:crypto";

/** The one id generator for records: 24 hex characters (a MongoDB ObjectId-compatible shape). */
export function newId(): string {
  const time = Math.floor(Date.now() / 1000).toString(16).padStart(8, "0");
  return time + randomBytes(8).toString("hex");
}

/** Event and reservation ids. */
export function newUuid(): string {
  return randomUUID();
}

/** A URL-safe random secret of the given number of bytes. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}
