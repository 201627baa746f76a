import type { IdentityServiceService, User } from "@tessera/proto/tessera/identity/v1/identity";
import { AppError } from "./errors.ts";
import type { GrpcClient } from "./grpc.ts";
import type { InvalidationBus } from "./invalidation-bus.ts";

/** What services need to know about a user (status, role, limits), as identity knows it. */
export interface DirectoryUser {
  id: string;
  tenantId: string;
  username: string;
  email: string;
  role: "user" | "admin";
  platformRole: "operator" | null;
  status: "active" | "disabled" | "silenced";
  premiumUntil: Date | null;
  maxMessagesPerDay: number | null;
  maxTokensPerDay: number | null;
  maxChats: number;
}

/** A user by id, or null when there is none in that tenant. */
export interface UserLookup {
  get(tenantId: string, userId: string): Promise<DirectoryUser | null>;
}

/** The key identity publishes on the "users" topic when a user changes. */
export const userCacheKey = (tenantId: string, userId: string) => `${tenantId}/${userId}`;

/** A user message of the identity service as a DirectoryUser. */
export function directoryUserOf(user: User): DirectoryUser {
  return {
    id: user.id,
    tenantId: user.tenantId,
    username: user.username,
    email: user.email,
    role: user.role === "admin" ? "admin" : "user",
    platformRole: user.platformRole === "operator" ? "operator" : null,
    status: user.status === "disabled" ? "disabled" : user.status === "silenced" ? "silenced" : "active",
    premiumUntil: user.premiumUntil ? new Date(user.premiumUntil) : null,
    maxMessagesPerDay: user.maxMessagesPerDay ?? null,
    maxTokensPerDay: user.maxTokensPerDay ?? null,
    maxChats: user.maxChats,
  };
}

/**
 * The one identity user-lookup client: answers from the platform cache, which identity's "users"
 * broadcasts keep exact, and asks identity on a miss only.
 */
export function createIdentityUserLookup(
  identity: Pick<GrpcClient<typeof IdentityServiceService>, "getUser">,
  bus: InvalidationBus,
  options: { ttlMs?: number; maxEntries?: number } = {},
): UserLookup {
  const cache = bus.cache<DirectoryUser | null>("users", { ttlMs: options.ttlMs ?? 5 * 60_000, maxEntries: options.maxEntries ?? 50_000 });
  return {
    get: (tenantId, userId) =>
      cache.getOrLoad(userCacheKey(tenantId, userId), async () => {
        try {
          const user = await identity.getUser({ tenantId, userId });
          return user.tenantId === tenantId ? directoryUserOf(user) : null;
        } catch (error) {
          if (error instanceof AppError && error.status === 404) return null;
          throw error;
        }
      }),
  };
}
