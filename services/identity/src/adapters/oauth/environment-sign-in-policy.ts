import type { SignInPolicy } from "../../domain/oauth.ts";
import type { SignInPolicySource } from "../../domain/ports.ts";

/**
 * Sign-in settings from the environment (SPEC §11): the default tenant offers every provider the
 * installation configures; other tenants offer none until tenant settings enable them.
 */
export function createEnvironmentSignInPolicy(options: { defaultTenantId: string; providerIds: string[]; autoLinkVerifiedEmail: boolean }): SignInPolicySource {
  const none: SignInPolicy = { enabledProviders: [], autoLinkVerifiedEmail: options.autoLinkVerifiedEmail };
  const all: SignInPolicy = { enabledProviders: options.providerIds, autoLinkVerifiedEmail: options.autoLinkVerifiedEmail };
  return { forTenant: async (tenantId) => (tenantId === options.defaultTenantId ? all : none) };
}
