/** One admin or operator action, as the audit log keeps it. */
export interface AuditRecord {
  id: string;
  at: Date;
  /** The tenant whose admin acted, or PLATFORM_SCOPE for the operator's tenant actions. */
  scope: string;
  actorId: string;
  /** `<noun>.<verb>`: user.update, settings.update, provider.create, tenant.update… */
  action: string;
  targetType: string;
  targetId: string;
  before: unknown;
  after: unknown;
  requestId: string;
}

export const PLATFORM_SCOPE = "_platform";

export interface AuditFilter {
  actorId?: string | undefined;
  action?: string | undefined;
  targetId?: string | undefined;
}

/** A position in a newest-first listing: strictly older than (at, id), and nothing newer than asOf. */
export interface AuditPosition {
  at: Date;
  id: string;
  asOf: Date;
}

// Whole names (so "tokens", a limit, is not taken for "token"), or names ending in these words.
const SECRET_NAMES = /(password|secret|credential|cookie|authorization)$|^(token|accessToken|refreshToken|apiKey|apiKeys|api_key|key|keys|addKeys)$/i;
const REDACTED = "[redacted]";

/**
 * A copy with secrets replaced: values under secret-sounding names, except lists of key
 * descriptions ({id, last4}) which hold no secret.
 */
export function redact(value: unknown, name = ""): unknown {
  if (Array.isArray(value)) {
    if (SECRET_NAMES.test(name) && !value.every((item) => item && typeof item === "object" && "last4" in item && !("secret" in item))) return REDACTED;
    return value.map((item) => redact(item));
  }
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, redact(inner, key)]));
  }
  if (SECRET_NAMES.test(name) && value !== null && value !== undefined && value !== "") return REDACTED;
  return value;
}
