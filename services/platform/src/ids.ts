import { randomBytes, randomFillSync, randomUUID } from "node:crypto";

/** The one id generator for records: 24 hex characters (a MongoDB ObjectId-compatible shape). */
export function newId(): string {
  const time = Math.floor(Date.now() / 1000).toString(16).padStart(8, "0");
  return time + randomBytes(8).toString("hex");
}

/** Event and reservation ids. */
export function newUuid(): string {
  return randomUUID();
}

// Secrets are cut from a buffer of CSPRNG output filled 4 KB at a time (as node:crypto does for
// randomUUID): one call into OpenSSL per 128 secrets instead of one each (refreshes draw one each).
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

/** A URL-safe random secret of the given number of bytes. */
export function randomSecret(bytes = 32): string {
  if (bytes > 256) return randomBytes(bytes).toString("base64url");
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const secret = pool.toString("base64url", poolOffset, poolOffset + bytes);
  // Handed out once: nothing of it stays behind in the pool.
  pool.fill(0, poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return secret;
}
