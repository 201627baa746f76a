export interface Tenant {
  id: string;
  slug: string;
  name: string;
  domains: string[];
  timeZone: string;
  minPasswordLength: number;
  /** Whether visitors may register themselves (operators and admins can still create accounts). */
  selfRegistration: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export const DEFAULT_TENANT_SLUG = "default";
export const DEFAULT_MIN_PASSWORD_LENGTH = 8;

/** The host part of a Host header, lower-case, without port. */
export function normalizeHost(host: string): string {
  const trimmed = host.trim().toLowerCase();
  if (trimmed.startsWith("[")) return trimmed.slice(0, trimmed.indexOf("]") + 1);
  return trimmed.split(":")[0] ?? "";
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}
