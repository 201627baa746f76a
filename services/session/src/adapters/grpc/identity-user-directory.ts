import { IdentityServiceService } from "@tessera/proto/tessera/identity/v1/identity";
import type { GrpcClient } from "@tessera/platform";
import type { UserDirectory } from "../../domain/ports.ts";

/** Reads a user's current role and status from the identity service at refresh time. */
export function createIdentityUserDirectory(identity: GrpcClient<typeof IdentityServiceService>): UserDirectory {
  return {
    async current(tenantId, userId) {
      try {
        const user = await identity.getUser({ tenantId, userId });
        return { role: user.role === "admin" ? "admin" : "user", status: user.status };
      } catch (error) {
        if ((error as { status?: number }).status === 404) return null;
        throw error;
      }
    },
  };
}
