import { validationFailed, type FieldError } from "@tessera/platform";

export type Role = "user" | "admin";
export type UserStatus = "active" | "disabled" | "silenced";

export interface User {
  id: string;
  tenantId: string;
  email: string;
  username: string;
  fullName: string;
  avatarUrl: string;
  role: Role;
  status: UserStatus;
  trustLevel: number;
  premiumUntil: Date | null;
  passwordHash: string | null;
  maxMessagesPerDay: number | null;
  maxTokensPerDay: number | null;
  maxChats: number;
  /** Platform role: operators manage tenants across the installation. */
  platformRole: "operator" | null;
  createdAt: Date;
  updatedAt: Date;
}

export const DEFAULT_MAX_CHATS = 10;
export const MAX_PASSWORD_LENGTH = 256;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const USERNAME_PATTERN = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/;

/** Emails compare case-insensitively and without surrounding space. */
export function normalizeEmail(email: string): string {
  return email.trim().normalize("NFKC").toLowerCase();
}

/** Usernames are case-insensitive: stored lower-case. */
export function normalizeUsername(username: string): string {
  return username.trim().normalize("NFKC").toLowerCase();
}

export function emailProblem(email: string): FieldError | undefined {
  if (email.length > 254 || !EMAIL_PATTERN.test(email)) return { field: "email", message: "Enter a valid email address." };
  return undefined;
}

export function usernameProblem(username: string): FieldError | undefined {
  if (username.length < 3 || username.length > 50) return { field: "username", message: "Use 3 to 50 characters." };
  if (!USERNAME_PATTERN.test(username)) {
    return { field: "username", message: "Use letters, digits, '.', '_' or '-', starting and ending with a letter or digit." };
  }
  return undefined;
}

export function isPremium(user: Pick<User, "premiumUntil">, now: Date): boolean {
  return user.premiumUntil !== null && user.premiumUntil.getTime() > now.getTime();
}

export function throwIfProblems(problems: Array<FieldError | undefined>): void {
  const errors = problems.filter((problem): problem is FieldError => problem !== undefined);
  if (errors.length > 0) throw validationFailed(errors);
}
