import type { TenantSettingsReader } from "@tessera/platform";
import type { SignInPolicySource } from "../../domain/ports.ts";

/**
 * The sign-in providers a tenant enabled in its settings, and whether a provider-verified email
 * links an existing account by itself (published by the admin service, read on every request); what
 * a tenant never chose keeps the environment's default.
 */
export function createPublishedSignInPolicy(options: { settings: TenantSettingsReader; fallback: SignInPolicySource; autoLinkVerifiedEmail: boolean }): SignInPolicySource {
  return {
    async forTenant(tenantId) {
      const { signInProviders, autoLinkVerifiedEmail } = await options.settings.get(tenantId);
      const enabledProviders = signInProviders ?? (await options.fallback.forTenant(tenantId)).enabledProviders;
      return { enabledProviders, autoLinkVerifiedEmail: autoLinkVerifiedEmail ?? options.autoLinkVerifiedEmail };
    },
  };
}
