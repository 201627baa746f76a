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

/** What a tenant configures (the admin service owns these; identity keeps the per-user overrides). */
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

export const noOverrides = (): LimitOverrides => ({ messages: null, tokens: null });

export function defaultTenantSettings(tenantId: string): TenantLimitSettings {
  return { tenantId, defaultLimits: noOverrides(), premiumLimits: noOverrides(), timeZone: DEFAULT_TIME_ZONE };
}

export function isPremium(user: Pick<QuotaUser, "premiumUntil">, now: Date): boolean {
  return user.premiumUntil !== null && user.premiumUntil.getTime() > now.getTime();
}

// The first set value of the two (no rest array per call: this runs on every quota check).
const pick = (value: number | null, fallback: number): number => (value !== null ? (value ?? 0) : (fallback ?? 0));

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
