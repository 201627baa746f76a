import type { SignInPolicy } from "../../domain/oauth.ts";
import type { SignInPolicySource } from "../../domain/ports.ts";

/**
 * Sign-in settings from the environment (SPEC §11): the default tenant offers every provider the
 * installation configures; other tenants offer none. A tenant's own choice in its settings wins (published-sign-in-policy.ts).
 */
export function createEnvironmentSignInPolicy(options: { defaultTenantId: string; providerIds: string[]; autoLinkVerifiedEmail: boolean }): SignInPolicySource {
  const none: SignInPolicy = { enabledProviders: [], autoLinkVerifiedEmail: options.autoLinkVerifiedEmail };
  const all: SignInPolicy = { enabledProviders: options.providerIds, autoLinkVerifiedEmail: options.autoLinkVerifiedEmail };
  return { forTenant: async (tenantId) => (tenantId === options.defaultTenantId ? all : none) };
}
