import { createHash, randomBytes } from "node:crypto";
import { randomSecret, tooManyRequests, unauthenticated, validationFailed, type Caller } from "@tessera/platform";
import { isProviderKind, OAUTH_FLOW_TTL_SECONDS, oauthErrors, type OAuthIntent, type ProviderKind, type SignInProvider } from "../domain/oauth.ts";
import type { AttemptThrottle, OAuthFlowStore, OAuthProviderGateway, SignInPolicySource } from "../domain/ports.ts";

export const hashBinding = (binding: string) => createHash("sha256").update(binding).digest("base64url");

/**
 * The per-IP key of the sign-in throttle: starting a provider flow counts as a sign-in attempt
 * (each one keeps state in Redis until it expires), and a completed flow gives it back.
 */
export const signInIpKey = (clientIp: string) => `ip:${clientIp || "unknown"}`;

/** The providers a tenant offers: configured for the installation and enabled by the tenant. */
export function makeListSignInProviders(deps: { gateway: OAuthProviderGateway; policies: SignInPolicySource }) {
  return async function listSignInProviders(tenantId: string): Promise<SignInProvider[]> {
    const policy = await deps.policies.forTenant(tenantId);
    return deps.gateway.configured().filter((provider) => policy.enabledProviders.includes(provider.id));
  };
}

export interface StartOAuthInput {
  tenantId: string;
  provider: string;
  intent: string;
  returnTo: string;
  redirectUri: string;
  browserBinding: string;
  /** The signed-in user, required for intent "link". */
  claims: Caller | null;
  clientIp: string;
}

/**
 * Begins an authorization-code flow with PKCE S256: fresh state, nonce and code verifier, kept
 * server-side (single use, ten minutes) with a hash of the browser's binding cookie.
 */
export function makeStartOAuth(deps: { gateway: OAuthProviderGateway; flows: OAuthFlowStore; throttle: AttemptThrottle; listSignInProviders: ReturnType<typeof makeListSignInProviders> }) {
  return async function startOAuth(input: StartOAuthInput): Promise<string> {
    if (input.intent !== "login" && input.intent !== "link") throw validationFailed([{ field: "intent", message: "Use login or link." }]);
    if (input.browserBinding.length < 32) throw validationFailed([{ field: "browserBinding", message: "Missing browser binding." }]);
    const provider = await enabledProvider(input.tenantId, input.provider);
    const intent: OAuthIntent = input.intent;
    if (intent === "link" && !input.claims) throw unauthenticated("Sign in to link a provider.");
    if (input.claims && input.claims.tenantId !== input.tenantId) throw unauthenticated();
    const wait = await deps.throttle.attempt([signInIpKey(input.clientIp)]);
    if (wait > 0) throw tooManyRequests("Too many sign-in attempts; try again later.", wait, "login_throttled");
    const codeVerifier = randomBytes(32).toString("base64url");
    const flow = {
      state: randomSecret(32),
      tenantId: input.tenantId,
      provider,
      intent,
      returnTo: input.returnTo,
      redirectUri: input.redirectUri,
      codeVerifier,
      nonce: randomSecret(32),
      bindingHash: hashBinding(input.browserBinding),
      userId: intent === "link" ? input.claims!.userId : null,
    };
    const codeChallenge = createHash("sha256").update(codeVerifier).digest("base64url");
    const url = await deps.gateway.authorizationUrl(provider, { redirectUri: flow.redirectUri, state: flow.state, nonce: flow.nonce, codeChallenge });
    await deps.flows.save(flow, OAUTH_FLOW_TTL_SECONDS);
    return url;
  };

  async function enabledProvider(tenantId: string, id: string): Promise<ProviderKind> {
    const enabled = await deps.listSignInProviders(tenantId);
    if (!isProviderKind(id) || !enabled.some((provider) => provider.id === id)) throw oauthErrors.unknownProvider();
    return id;
  }
}
