import { notFound, unauthenticated, type Caller } from "@tessera/platform";
import { isProviderKind, oauthErrors, type LinkedIdentity } from "../domain/oauth.ts";
import type { LinkedIdentityRepository, TenantLock, UserRepository } from "../domain/ports.ts";

/** A signed-in user's linked identities: list them, unlink one while another way in remains. */
export function makeLinkedIdentities(deps: { users: UserRepository; identities: LinkedIdentityRepository; tenantLock: TenantLock }) {
  // Two unlinks of one user at once must not both see the other identity as the remaining way in,
  // on any replica: they run under the tenant's Redis lock (unlinking is rare; FerretDB cannot
  // settle the read-then-delete by itself).
  return {
    list: (claims: Caller): Promise<LinkedIdentity[]> => deps.identities.listForUser(claims.tenantId, claims.userId),

    unlink: (claims: Caller, provider: string): Promise<void> => deps.tenantLock.withLock(claims.tenantId, () => unlink(claims, provider)),
  };

  async function unlink(claims: Caller, provider: string): Promise<void> {
    const user = await deps.users.findById(claims.tenantId, claims.userId);
    if (!user) throw unauthenticated();
    const identities = await deps.identities.listForUser(user.tenantId, user.id);
    if (!isProviderKind(provider) || !identities.some((identity) => identity.provider === provider)) throw notFound("linked identity");
    // Never the last way in: a password, or another linked provider, must remain.
    if (user.passwordHash === null && identities.length <= 1) throw oauthErrors.lastSignInMethod();
    if (!(await deps.identities.remove(user.tenantId, user.id, provider))) throw notFound("linked identity");
  }
}
