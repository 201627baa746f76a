import type { User } from "@tessera/proto/tessera/identity/v1/identity";

/** The public shape of a user (API.md "Me"). */
export function userJson(user: User, now = Date.now()) {
  const premiumUntil = user.premiumUntil ?? null;
  return {
    id: user.id,
    tenantId: user.tenantId,
    email: user.email,
    username: user.username,
    fullName: user.fullName,
    avatarUrl: user.avatarUrl || null,
    role: user.role,
    status: user.status,
    trustLevel: user.trustLevel,
    premiumUntil,
    isPremium: premiumUntil !== null && Date.parse(premiumUntil) > now,
    hasPassword: user.hasPassword,
    createdAt: user.createdAt,
  };
}
