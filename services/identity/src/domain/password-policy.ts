import type { FieldError } from "@tessera/platform";
import { MAX_PASSWORD_LENGTH } from "./user.ts";

/**
 * NIST SP 800-63B style rules: a minimum length (8, a tenant can raise it), long passphrases
 * accepted, no composition rules, and the most common passwords refused.
 */
export function passwordProblem(
  password: string,
  minLength: number,
  isCommon: (password: string) => boolean,
  field = "password",
): FieldError | undefined {
  const length = [...password].length;
  if (length < minLength) return { field, message: `Use at least ${minLength} characters.` };
  if (length > MAX_PASSWORD_LENGTH) return { field, message: `Use at most ${MAX_PASSWORD_LENGTH} characters.` };
  if (isCommon(password)) return { field, message: "This password is too common; choose another." };
  return undefined;
}
