import { AppError } from "@tessera/platform";

/** The kinds of sign-in provider: each knows its endpoints and how to read the person's profile. */
export type ProviderKind = "google" | "oidc" | "github" | "discord";
export const PROVIDER_KINDS: readonly ProviderKind[] = ["google", "oidc", "github", "discord"];

/** A configured sign-in provider (its id is its kind: one provider of each kind per installation). */
export interface SignInProvider {
  id: ProviderKind;
  name: string;
  /** "oidc": OpenID Connect (discovery, ID token); "oauth2": OAuth 2 endpoints and a user API. */
  type: "oidc" | "oauth2";
}

export type OAuthIntent = "login" | "link";

/** What a provider says about the person, after the code exchange. Tokens are never kept. */
export interface ExternalProfile {
  /** The provider's stable subject id; identities are keyed by (provider, subject), never by email. */
  subject: string;
  email: string | null;
  emailVerified: boolean;
  displayName: string;
  /** The provider's handle (GitHub login, Discord username, preferred_username), when it has one. */
  username: string | null;
  avatarUrl: string;
}

/** The server-side state of one authorization request, kept until the callback (single use). */
export interface OAuthFlow {
  state: string;
  tenantId: string;
  provider: ProviderKind;
  intent: OAuthIntent;
  returnTo: string;
  redirectUri: string;
  codeVerifier: string;
  nonce: string;
  /** SHA-256 of the browser binding cookie's value. */
  bindingHash: string;
  /** For intent "link": the user the identity will be linked to. */
  userId: string | null;
}

export interface LinkedIdentity {
  id: string;
  tenantId: string;
  userId: string;
  provider: ProviderKind;
  subject: string;
  email: string;
  displayName: string;
  avatarUrl: string;
  linkedAt: Date;
}

/** Whether the tenant lets providers sign people in, and which. */
export interface SignInPolicy {
  /** Provider ids enabled for the tenant (among those the installation configures). */
  enabledProviders: readonly string[];
  /** An existing user with the same, provider-verified email is linked automatically. */
  autoLinkVerifiedEmail: boolean;
}

export const OAUTH_FLOW_TTL_SECONDS = 600;

export const isProviderKind = (value: string): value is ProviderKind => (PROVIDER_KINDS as readonly string[]).includes(value);

/** The errors a sign-in with a provider ends in; the web app translates each code. */
export const oauthErrors = {
  unknownProvider: () => new AppError("oauth_provider_unknown", 404, "That sign-in provider is not enabled here."),
  invalidState: () => new AppError("oauth_state_invalid", 400, "This sign-in link has expired or was already used; start again."),
  denied: () => new AppError("oauth_denied", 400, "Sign-in was cancelled at the provider."),
  failed: (cause?: unknown) => new AppError("oauth_failed", 400, "The provider's answer could not be verified; start again.", { cause }),
  providerUnavailable: (cause?: unknown) => new AppError("oauth_provider_unavailable", 503, "The sign-in provider cannot be reached; try again shortly.", { cause, expose: true }),
  emailMissing: () => new AppError("oauth_email_missing", 400, "The provider did not share a verified email address."),
  emailUnverified: () => new AppError("oauth_email_unverified", 400, "Your email address is not verified with this provider; verify it there first."),
  accountExists: () =>
    new AppError("oauth_account_exists", 409, "An account with this email already exists. Sign in to it and link this provider from your settings."),
  identityTaken: () => new AppError("oauth_identity_taken", 409, "This provider account is already linked to another user."),
  providerAlreadyLinked: () => new AppError("oauth_provider_already_linked", 409, "Another account of this provider is already linked; unlink it first."),
  lastSignInMethod: () => new AppError("last_sign_in_method", 409, "This is your only way to sign in; set a password or link another provider first."),
  linkUserMismatch: () => new AppError("oauth_link_user_changed", 409, "You switched accounts while linking; start again from your settings."),
};

/**
 * A username for a new user from what the provider offers: lower-case letters, digits, '.', '_'
 * and '-', 3 to 50 characters, starting and ending with a letter or digit.
 */
export function usernameBase(profile: Pick<ExternalProfile, "username" | "email" | "displayName">): string {
  const candidates = [profile.username, profile.email?.split("@")[0], profile.displayName];
  for (const candidate of candidates) {
    const cleaned = (candidate ?? "")
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/\s+/g, "-")
      .replace(/[^a-z0-9._-]/g, "")
      .replace(/^[._-]+|[._-]+$/g, "")
      .slice(0, 40)
      .replace(/[._-]+$/g, "");
    if (cleaned.length >= 3) return cleaned;
    if (cleaned.length > 0) return `${cleaned}-user`;
  }
  return "user";
}

/** The n-th alternative of a base username (n = 0 is the base itself). */
export function usernameCandidate(base: string, attempt: number): string {
  return attempt === 0 ? base : `${base}-${attempt < 5 ? attempt + 1 : Math.floor(Math.random() * 1_000_000)}`;
}
