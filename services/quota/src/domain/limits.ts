import { validationFailed, type FieldError } from "@tessera/platform";

/** A user's daily allowance. */
export interface Limits {
  messages: number;
  tokens: number;
}

/** A partial pair: unset members fall back to the next level. */
export interface LimitOverrides {
  messages: number | null;
  tokens: number | null;
}

/** What a tenant configures (quota owns these; identity keeps the per-user overrides). */
export interface TenantLimitSettings {
  tenantId: string;
  defaultLimits: LimitOverrides;
  premiumLimits: LimitOverrides;
  /** IANA zone whose midnight starts a new quota day. */
  timeZone: string;
}

/** What quota needs to know about a user (read from identity). */
export interface QuotaUser {
  id: string;
  tenantId: string;
  username: string;
  email: string;
  premiumUntil: Date | null;
  overrides: LimitOverrides;
}

export const PLATFORM_DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({ messages: 100, tokens: 500_000 });
export const DEFAULT_TIME_ZONE = "UTC";
const MAX_LIMIT = 1_000_000_000_000;

export const noOverrides = (): LimitOverrides => ({ messages: null, tokens: null });

export function defaultTenantSettings(tenantId: string): TenantLimitSettings {
  return { tenantId, defaultLimits: noOverrides(), premiumLimits: noOverrides(), timeZone: DEFAULT_TIME_ZONE };
}

export function isPremium(user: Pick<QuotaUser, "premiumUntil">, now: Date): boolean {
  return user.premiumUntil !== null && user.premiumUntil.getTime() > now.getTime();
}

const pick = (...candidates: Array<number | null>): number => candidates.find((value): value is number => value !== null) ?? 0;

/** The tenant's effective defaults for ordinary and premium users. */
export function effectiveTenantLimits(settings: TenantLimitSettings): { standard: Limits; premium: Limits } {
  const standard = {
    messages: pick(settings.defaultLimits.messages, PLATFORM_DEFAULT_LIMITS.messages),
    tokens: pick(settings.defaultLimits.tokens, PLATFORM_DEFAULT_LIMITS.tokens),
  };
  const premium = {
    messages: pick(settings.premiumLimits.messages, standard.messages),
    tokens: pick(settings.premiumLimits.tokens, standard.tokens),
  };
  return { standard, premium };
}

/**
 * Limit precedence, member by member: the user's override, then the premium default while the
 * user is premium, then the tenant default, then 100 messages / 500,000 tokens.
 */
export function resolveLimits(user: Pick<QuotaUser, "premiumUntil" | "overrides">, settings: TenantLimitSettings, now: Date): Limits {
  const tier = effectiveTenantLimits(settings)[isPremium(user, now) ? "premium" : "standard"];
  return {
    messages: pick(user.overrides.messages, tier.messages),
    tokens: pick(user.overrides.tokens, tier.tokens),
  };
}

function limitProblem(field: string, value: number | null): FieldError | undefined {
  if (value === null) return undefined;
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_LIMIT) return { field, message: "Use a whole number from 0 upwards." };
  return undefined;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone }).format(0);
    return true;
  } catch {
    return false;
  }
}

/** Validates new tenant settings; throws 400 listing every bad field. */
export function validateTenantSettings(settings: TenantLimitSettings): TenantLimitSettings {
  const problems = [
    limitProblem("defaultLimits.messages", settings.defaultLimits.messages),
    limitProblem("defaultLimits.tokens", settings.defaultLimits.tokens),
    limitProblem("premiumLimits.messages", settings.premiumLimits.messages),
    limitProblem("premiumLimits.tokens", settings.premiumLimits.tokens),
    isValidTimeZone(settings.timeZone) ? undefined : { field: "timeZone", message: "Use an IANA time zone such as Europe/Berlin." },
  ].filter((problem): problem is FieldError => problem !== undefined);
  if (problems.length > 0) throw validationFailed(problems);
  return settings;
}
