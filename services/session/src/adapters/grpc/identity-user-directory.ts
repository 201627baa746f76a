import { IdentityServiceService } from "@tessera/proto/tessera/identity/v1/identity";
import type { GrpcClient } from "@tessera/platform";
import type { UserDirectory } from "../../domain/ports.ts";

/**
 * Reads a user's current role and status from the identity service at refresh time, remembering
 * answers for a short while: a role change reaches new access tokens within that time plus 15
 * minutes, and disabling a user revokes their sessions directly, so no refresh waits on this.
 */
export function createIdentityUserDirectory(identity: GrpcClient<typeof IdentityServiceService>, cacheMs = 30_000): UserDirectory {
  const cache = new Map<string, { value: { role: "user" | "admin"; status: string } | null; at: number }>();
  return {
    async current(tenantId, userId) {
      const key = `${tenantId}/${userId}`;
      const cached = cache.get(key);
      if (cached && Date.now() - cached.at < cacheMs) return cached.value;
      let value: { role: "user" | "admin"; status: string } | null;
      try {
        const user = await identity.getUser({ tenantId, userId });
        value = { role: user.role === "admin" ? "admin" : "user", status: user.status };
      } catch (error) {
        if ((error as { status?: number }).status !== 404) throw error;
        value = null;
      }
      if (cache.size > 50_000) cache.clear();
      cache.set(key, { value, at: Date.now() });
      return value;
    },
  };
}
