import { hash } from "node:crypto";
import type { TokenHasher } from "../../domain/ports.ts";

/**
 * Refresh-token secrets are 256-bit random, so a plain SHA-256 is the right hash (no stretching
 * needed). One-shot `crypto.hash`: no Hash object per call (two hashes on every refresh).
 */
export const sha256TokenHasher: TokenHasher = {
  hash: (secret) => hash("sha256", secret, "base64url"),
};
