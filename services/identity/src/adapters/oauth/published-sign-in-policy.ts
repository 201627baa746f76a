import type { TenantSettingsReader } from "@tessera/platform";
import type { SignInPolicySource } from "../../domain/ports.ts";

/**
 * The sign-in providers a tenant enabled in its settings (published by the admin service, read on
 * every request); a tenant that never chose keeps the environment's default.
 */
export function createPublishedSignInPolicy(options: { settings: TenantSettingsReader; fallback: SignInPolicySource; autoLinkVerifiedEmail: boolean }): SignInPolicySource {
  return {
    async forTenant(tenantId) {
      const { signInProviders } = await options.settings.get(tenantId);
      if (signInProviders === null) return options.fallback.forTenant(tenantId);
      return { enabledProviders: signInProviders, autoLinkVerifiedEmail: options.autoLinkVerifiedEmail };
    },
  };
}
