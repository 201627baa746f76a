import { readFileSync } from "node:fs";
import type { CommonPasswords } from "../../domain/ports.ts";

/**
 * The most common passwords of 8+ characters (17,950, lower-cased), from the zxcvbn-ts common
 * dictionary (MIT). Compared case-insensitively.
 */
export function loadCommonPasswords(): CommonPasswords {
  const text = readFileSync(new URL("../../domain/common-passwords.txt", import.meta.url), "utf8");
  const set = new Set(text.split("\n").filter((line) => line.length > 0));
  return { has: (password) => set.has(password.toLowerCase()) };
}
