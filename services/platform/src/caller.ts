import { forbidden } from "./errors.ts";

/** How a caller proved who they are at the edge. */
export type CallerKind = "session" | "apiKey";

/** What a caller may do; a browser session may do everything its role allows. */
export type Scope = "inference" | "account" | "admin";

/** Every scope there is; a browser session carries them all. */
export const ALL_SCOPES: readonly Scope[] = ["inference", "account", "admin"];

/** Scopes of an API key created without any (the OpenAI-compatible API only). */
export const DEFAULT_API_KEY_SCOPES: readonly Scope[] = ["inference"];

/**
 * The one verified identity a request acts for, built once at the edge (BFF) from a browser
 * session or an API key and checked locally by every service. It never carries a credential.
 */
export interface Caller {
  tenantId: string;
  userId: string;
  role: "user" | "admin";
  /** The platform-wide role (tenant management), if any. */
  platformRole: "operator" | null;
  scopes: readonly Scope[];
  kind: CallerKind;
  /** The sign-in session (kind "session"), else null. */
  sessionId: string | null;
  /** The personal API key (kind "apiKey"), else null. */
  apiKeyId: string | null;
}

/** Whose data a call touches: every query is scoped by both. */
export interface Owner {
  tenantId: string;
  userId: string;
}

export const ownerOf = (caller: Caller): Owner => ({ tenantId: caller.tenantId, userId: caller.userId });

/** Whether the caller may use a scope. */
export const hasScope = (caller: Caller, scope: Scope): boolean => caller.scopes.includes(scope);

/** Throws 403 unless the caller's credential carries the scope. */
export function requireScope(caller: Caller, scope: Scope): void {
  if (!hasScope(caller, scope)) throw forbidden(`This credential does not allow "${scope}".`, "insufficient_scope");
}

/** Throws 403 unless the caller is an admin of their tenant. */
export function requireAdmin(caller: Pick<Caller, "role">): void {
  if (caller.role !== "admin") throw forbidden("Only administrators can do this.");
}

/** Keeps only known scopes (unknown ones in a token are ignored, never granted). */
export function parseScopes(values: unknown): Scope[] {
  if (!Array.isArray(values)) return [];
  return ALL_SCOPES.filter((scope) => values.includes(scope));
}
