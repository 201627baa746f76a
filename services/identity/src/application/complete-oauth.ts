import { timingSafeEqual } from "node:crypto";
import { AppError, forbidden, newId, type Caller, type Clock } from "@tessera/platform";
import { oauthErrors, usernameBase, usernameCandidate, type ExternalProfile, type LinkedIdentity, type OAuthFlow, type OAuthIntent } from "../domain/oauth.ts";
import { IdentityConflictError, type LinkedIdentityRepository, type OAuthFlowStore, type OAuthProviderGateway, type SignInPolicySource, type AttemptThrottle, type TenantRepository, type UserRepository } from "../domain/ports.ts";
import { emailProblem, normalizeEmail, type User } from "../domain/user.ts";
import { DuplicateUserError, makeSelfRegistrationGate } from "./register-user.ts";
import { hashBinding, signInIpKey } from "./start-oauth.ts";

export interface CompleteOAuthInput {
  tenantId: string;
  provider: string;
  callbackQuery: string;
  browserBinding: string;
  /** The browser's active account, when one is signed in. */
  claims: Caller | null;
  /** For the registration throttle, when the sign-in creates an account. */
  clientIp: string;
}

export interface CompletedOAuth {
  user: User;
  intent: OAuthIntent;
  returnTo: string;
}

const sameHash = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * The callback: takes the flow (single use), checks that this browser started it, lets the
 * gateway verify the provider's answer, then signs in, links or creates the user.
 */
export function makeCompleteOAuth(deps: {
  users: UserRepository;
  tenants: TenantRepository;
  identities: LinkedIdentityRepository;
  flows: OAuthFlowStore;
  gateway: OAuthProviderGateway;
  policies: SignInPolicySource;
  throttle: AttemptThrottle;
  clock: Clock;
}) {
  const admitSelfRegistration = makeSelfRegistrationGate(deps);
  return async function completeOAuth(input: CompleteOAuthInput): Promise<CompletedOAuth> {
    const state = new URLSearchParams(input.callbackQuery).get("state");
    // A state of the wrong shape is not worth a Redis round trip; the real one is 43 characters.
    const flow = state && state.length <= 128 ? await deps.flows.take(state) : null;
    if (!flow || flow.tenantId !== input.tenantId || flow.provider !== input.provider || !sameHash(flow.bindingHash, hashBinding(input.browserBinding))) {
      throw oauthErrors.invalidState();
    }
    try {
      const profile = await deps.gateway.exchange(flow.provider, input.callbackQuery, flow);
      const user = flow.intent === "link" ? await link(flow, profile, input.claims) : await signIn(flow, profile, input.clientIp);
      await deps.throttle.refund([signInIpKey(input.clientIp)]);
      return { user, intent: flow.intent, returnTo: flow.returnTo };
    } catch (error) {
      // The BFF sends the browser back where it came from, with the error's code.
      if (error instanceof AppError) throw new AppError(error.code, error.status, error.message, { cause: error.cause, expose: error.expose, extensions: { intent: flow.intent, returnTo: flow.returnTo } });
      throw error;
    }
  };

  async function link(flow: OAuthFlow, profile: ExternalProfile, claims: Caller | null): Promise<User> {
    if (!claims || claims.tenantId !== flow.tenantId || claims.userId !== flow.userId) throw oauthErrors.linkUserMismatch();
    const user = await deps.users.findById(flow.tenantId, claims.userId);
    if (!user) throw oauthErrors.linkUserMismatch();
    const existing = await deps.identities.findBySubject(flow.tenantId, flow.provider, profile.subject);
    if (existing) {
      if (existing.userId !== user.id) throw oauthErrors.identityTaken();
      await refreshProfile(existing, profile);
      return user;
    }
    await createIdentity(flow, user.id, profile);
    return user;
  }

  async function signIn(flow: OAuthFlow, profile: ExternalProfile, clientIp: string): Promise<User> {
    const existing = await deps.identities.findBySubject(flow.tenantId, flow.provider, profile.subject);
    if (existing) {
      const user = await deps.users.findById(flow.tenantId, existing.userId);
      if (user) {
        await refreshProfile(existing, profile);
        return usable(user);
      }
    }
    const email = profile.email ? normalizeEmail(profile.email) : "";
    if (!email || emailProblem(email)) throw oauthErrors.emailMissing();
    const sameEmail = await deps.users.findByLogin(flow.tenantId, email);
    if (sameEmail) {
      // Only the provider's word that the address is verified, and the tenant's consent, link an
      // existing account; anything else would let whoever types an email take the account over.
      const policy = await deps.policies.forTenant(flow.tenantId);
      if (!profile.emailVerified || !policy.autoLinkVerifiedEmail) throw oauthErrors.accountExists();
      usable(sameEmail);
      await createIdentity(flow, sameEmail.id, profile);
      return sameEmail;
    }
    // A new account takes the email as its own: only a verified one.
    if (!profile.emailVerified) throw oauthErrors.emailUnverified();
    // A new account through a provider passes the same door as a password registration: closed
    // self-registration refuses it, and it counts against the registration throttle.
    const tenant = await deps.tenants.findById(flow.tenantId);
    if (!tenant) throw oauthErrors.invalidState();
    await admitSelfRegistration(tenant, clientIp);
    const user = await createUser(flow.tenantId, email, profile);
    await createIdentity(flow, user.id, profile);
    return user;
  }

  function usable(user: User): User {
    if (user.status === "disabled") throw forbidden("This account is disabled.", "account_disabled");
    return user;
  }

  async function createUser(tenantId: string, email: string, profile: ExternalProfile): Promise<User> {
    const base = usernameBase(profile);
    for (let attempt = 0; attempt < 8; attempt += 1) {
      try {
        return await deps.users.create({ tenantId, email, username: usernameCandidate(base, attempt), fullName: profile.displayName.slice(0, 200), role: "user", passwordHash: null });
      } catch (error) {
        if (!(error instanceof DuplicateUserError)) throw error;
        // The same person signing in twice at once: the other request created the account.
        if (error.field === "email") throw oauthErrors.accountExists();
      }
    }
    throw oauthErrors.failed(new Error("no free username"));
  }

  async function createIdentity(flow: OAuthFlow, userId: string, profile: ExternalProfile): Promise<void> {
    const identity: LinkedIdentity = {
      id: newId(),
      tenantId: flow.tenantId,
      userId,
      provider: flow.provider,
      subject: profile.subject,
      email: profile.email ?? "",
      displayName: profile.displayName.slice(0, 200),
      avatarUrl: profile.avatarUrl,
      linkedAt: deps.clock.now(),
    };
    try {
      await deps.identities.create(identity);
    } catch (error) {
      if (!(error instanceof IdentityConflictError)) throw error;
      if (error.on === "user_provider") throw oauthErrors.providerAlreadyLinked();
      const owner = await deps.identities.findBySubject(flow.tenantId, flow.provider, profile.subject);
      if (owner?.userId !== userId) throw oauthErrors.identityTaken();
    }
  }

  async function refreshProfile(identity: LinkedIdentity, profile: ExternalProfile): Promise<void> {
    const next = { email: profile.email ?? identity.email, displayName: profile.displayName.slice(0, 200), avatarUrl: profile.avatarUrl };
    if (next.email !== identity.email || next.displayName !== identity.displayName || next.avatarUrl !== identity.avatarUrl) await deps.identities.updateProfile(identity.id, next);
  }
}
