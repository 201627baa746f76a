import { hash } from "node:crypto";
import { forbidden, unauthenticated } from "./errors.ts";

/** How a caller proved who they are at the edge. */
export type CallerKind = "session" | "apiKey";

/** What a personal API key can be granted; a key created without a choice gets "inference" only. */
export const API_KEY_SCOPES = ["inference", "chats:read", "chats:write", "usage:read"] as const;
export type Scope = (typeof API_KEY_SCOPES)[number];
export type ApiKeyScope = Scope;

/** A browser session may do everything its role allows: every scope. */
export const ALL_SCOPES: readonly Scope[] = API_KEY_SCOPES;

/** Scopes of an API key created without any (the OpenAI-compatible API only). */
export const DEFAULT_KEY_SCOPES: readonly Scope[] = ["inference"];

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

/** Known scopes only, in their canonical order (unknown ones are never granted). */
export const knownKeyScopes = (values: unknown): Scope[] => (Array.isArray(values) ? API_KEY_SCOPES.filter((scope) => values.includes(scope)) : []);

/** Personal API keys start with this; anything else presented as a bearer token is an access token. */
export const API_KEY_PREFIX = "tsk_";

/** How an API key is stored, looked up and named in cache broadcasts: its SHA-256, base64url (the secret itself is never kept). */
export const apiKeyHash = (secret: string): string => hash("sha256", secret, "base64url");

/** The Caller a browser session of this user stands for (every scope its role allows). */
export function sessionCaller(input: { tenantId: string; userId: string; role: Caller["role"]; sessionId?: string; platformRole?: Caller["platformRole"] }): Caller {
  return {
    tenantId: input.tenantId,
    userId: input.userId,
    role: input.role,
    platformRole: input.platformRole ?? null,
    scopes: ALL_SCOPES,
    kind: "session",
    sessionId: input.sessionId ?? "local",
    apiKeyId: null,
  };
}

/**
 * Throws 401 unless the caller signed in with a browser session: API keys never manage
 * credentials, sessions or other users (a key is refused there as if it were no credential).
 */
export function requireSessionCaller(caller: Caller): Caller {
  if (caller.kind !== "session") throw unauthenticated("Sign in to do this; an API key cannot.", "session_required");
  return caller;
}
