import { hash, verify } from "@node-rs/argon2";

// @node-rs/argon2 exports Algorithm as a const enum; 2 is Argon2id.
const ARGON2ID = 2;
import type { PasswordHasher } from "../../domain/ports.ts";

/** OWASP's argon2id parameters: 19 MiB memory, 2 iterations, parallelism 1. */
export const OWASP_ARGON2ID = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function createArgon2PasswordHasher(parameters: { memoryCost: number; timeCost: number; parallelism: number } = OWASP_ARGON2ID): PasswordHasher {
  const options = { algorithm: ARGON2ID, ...parameters };
  return {
    hash: (password) => hash(password, options),
    verify: async (stored, password) => {
      try {
        return await verify(stored, password);
      } catch {
        return false;
      }
    },
    needsRehash(stored) {
      const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
      if (!match) return true;
      return Number(match[1]) !== parameters.memoryCost || Number(match[2]) !== parameters.timeCost || Number(match[3]) !== parameters.parallelism;
    },
  };
}
