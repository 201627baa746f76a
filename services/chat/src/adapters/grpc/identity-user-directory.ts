import type { GrpcClient } from "@tessera/platform";
import type { IdentityServiceService } from "@tessera/proto/tessera/identity/v1/identity";
import type { UserDirectory } from "../../domain/ports.ts";

/** Status and maxChats of a user, from the identity service (uncached by default: silencing takes effect at once). */
export function identityUserDirectory(identity: GrpcClient<typeof IdentityServiceService>, cacheMs = 0): UserDirectory {
  const cache = new Map<string, { at: number; value: { status: string; maxChats: number } }>();
  return {
    async get(owner) {
      const key = `${owner.tenantId}/${owner.userId}`;
      const cached = cache.get(key);
      if (cached && Date.now() - cached.at < cacheMs) return cached.value;
      const user = await identity.getUser({ tenantId: owner.tenantId, userId: owner.userId });
      const value = { status: user.status, maxChats: user.maxChats };
      if (cache.size > 10_000) cache.clear();
      cache.set(key, { at: Date.now(), value });
      return value;
    },
  };
}
