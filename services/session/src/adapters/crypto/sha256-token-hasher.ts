import { createHash } from "node:crypto";
import type { TokenHasher } from "../../domain/ports.ts";

/** Refresh-token secrets are 256-bit random, so a plain SHA-256 is the right hash (no stretching needed). */
export const sha256TokenHasher: TokenHasher = {
  hash: (secret) => createHash("sha256").update(secret).digest("base64url"),
};
