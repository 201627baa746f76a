import type { IdentityServiceService } from "@tessera/proto/tessera/identity/v1/identity";
import { AppError, type GrpcClient } from "@tessera/platform";
import type { QuotaUser } from "../../domain/limits.ts";
import type { UserDirectory } from "../../domain/ports.ts";

/** Users (premium and limit overrides) as the identity service knows them. */
export function createIdentityUserDirectory(identity: GrpcClient<typeof IdentityServiceService>): UserDirectory {
  return {
    async get(tenantId, userId): Promise<QuotaUser | null> {
      try {
        const user = await identity.getUser({ tenantId, userId });
        if (user.tenantId !== tenantId) return null;
        return {
          id: user.id,
          tenantId: user.tenantId,
          username: user.username,
          email: user.email,
          premiumUntil: user.premiumUntil ? new Date(user.premiumUntil) : null,
          overrides: { messages: user.maxMessagesPerDay ?? null, tokens: user.maxTokensPerDay ?? null },
        };
      } catch (error) {
        if (error instanceof AppError && error.status === 404) return null;
        throw error;
      }
    },
  };
}
