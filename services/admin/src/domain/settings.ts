import { validationFailed, type FieldError, type LimitPair, type TenantSettingsSnapshot } from "@tessera/platform";

/** The admin service's own part of a tenant's settings (identity and chat keep theirs). */
export interface StoredSettings extends TenantSettingsSnapshot {
  updatedAt: Date | null;
}

export const MAX_LIMIT = 1_000_000_000_000;
export const MAX_OFFERED_MODELS = 200;
/** The largest per-answer token maximum a tenant may set (as CHAT_MAX_COMPLETION_TOKENS allows). */
export const MAX_COMPLETION_TOKENS = 1_000_000;
/** The kinds of sign-in provider a tenant can enable (the installation configures their credentials). */
export const SIGN_IN_PROVIDER_KINDS = ["google", "discord", "github", "oidc"] as const;

/**
 * IANA names only ("Europe/Berlin", "Asia/Kolkata", "UTC"): no offsets such as "+05:00". Checked
 * against the runtime's time zone database (ICU lists some zones under older aliases, so
 * Intl.supportedValuesOf cannot be the list).
 */
export function isIanaTimeZone(name: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/.test(name) || name.length > 64) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name }).format(0);
    return true;
  } catch {
    return false;
  }
}

const limitProblems = (field: string, pair: LimitPair | undefined): FieldError[] => {
  if (!pair) return [];
  return (["messages", "tokens"] as const)
    .filter((member) => pair[member] !== null && (!Number.isInteger(pair[member]) || pair[member]! < 0 || pair[member]! > MAX_LIMIT))
    .map((member) => ({ field: `${field}.${member}`, message: `Use a whole number from 0 to ${MAX_LIMIT}, or null for the fallback.` }));
};

export interface SettingsChanges {
  defaultLimits?: LimitPair | undefined;
  premiumLimits?: LimitPair | undefined;
  timeZone?: string | undefined;
  models?: string[] | undefined;
  sharedUpstream?: boolean | undefined;
  signInProviders?: string[] | undefined;
  autoLinkVerifiedEmail?: boolean | undefined;
  /** null: back to the installation's default. */
  maxCompletionTokens?: number | null | undefined;
}

/** Applies changes to the stored settings, or throws a 400 naming every bad field. */
export function applySettingsChanges(current: StoredSettings, changes: SettingsChanges, availableModels: string[] | null, now: Date): StoredSettings {
  const problems = [...limitProblems("defaultLimits", changes.defaultLimits), ...limitProblems("premiumLimits", changes.premiumLimits)];
  if (changes.timeZone !== undefined && !isIanaTimeZone(changes.timeZone)) problems.push({ field: "timeZone", message: "Use an IANA time zone such as Europe/Berlin." });
  if (changes.models !== undefined) {
    if (changes.models.length > MAX_OFFERED_MODELS) problems.push({ field: "models", message: `At most ${MAX_OFFERED_MODELS} models.` });
    const unknown = availableModels === null ? [] : changes.models.filter((model) => !availableModels.includes(model));
    if (unknown.length > 0) problems.push({ field: "models", message: `Not served by this tenant's providers: ${unknown.slice(0, 5).join(", ")}.` });
  }
  const unknownProviders = (changes.signInProviders ?? []).filter((provider) => !(SIGN_IN_PROVIDER_KINDS as readonly string[]).includes(provider));
  if (unknownProviders.length > 0) problems.push({ field: "signInProviders", message: `Use ${SIGN_IN_PROVIDER_KINDS.join(", ")}.` });
  const maxTokens = changes.maxCompletionTokens;
  if (maxTokens !== undefined && maxTokens !== null && (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > MAX_COMPLETION_TOKENS))
    problems.push({ field: "maxCompletionTokens", message: `Use a whole number from 1 to ${MAX_COMPLETION_TOKENS}, or null for the installation's default.` });
  if (problems.length > 0) throw validationFailed(problems);
  return {
    tenantId: current.tenantId,
    defaultLimits: changes.defaultLimits ?? current.defaultLimits,
    premiumLimits: changes.premiumLimits ?? current.premiumLimits,
    timeZone: changes.timeZone ?? current.timeZone,
    models: changes.models ? [...new Set(changes.models)] : current.models,
    sharedUpstream: changes.sharedUpstream ?? current.sharedUpstream,
    signInProviders: changes.signInProviders ? [...new Set(changes.signInProviders)] : current.signInProviders,
    autoLinkVerifiedEmail: changes.autoLinkVerifiedEmail ?? current.autoLinkVerifiedEmail,
    maxCompletionTokens: changes.maxCompletionTokens === undefined ? current.maxCompletionTokens : changes.maxCompletionTokens,
    updatedAt: now,
  };
}

/** What readers in other services get. */
export const snapshotOf = (settings: StoredSettings): TenantSettingsSnapshot => ({
  tenantId: settings.tenantId,
  defaultLimits: settings.defaultLimits,
  premiumLimits: settings.premiumLimits,
  timeZone: settings.timeZone,
  models: settings.models,
  sharedUpstream: settings.sharedUpstream,
  signInProviders: settings.signInProviders,
  autoLinkVerifiedEmail: settings.autoLinkVerifiedEmail,
  maxCompletionTokens: settings.maxCompletionTokens,
});
