import type { User as UserMessage } from "@tessera/proto/tessera/identity/v1/identity";
import { z } from "./validate.ts";

export const Role = z.enum(["user", "admin"]);
export const UserStatus = z.enum(["active", "disabled", "silenced"]);

/** The public shape of a user (API.md "Me"). */
export const User = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    email: z.string(),
    username: z.string(),
    fullName: z.string(),
    avatarUrl: z.string().nullable(),
    role: Role,
    status: UserStatus,
    trustLevel: z.number().int().min(0).max(4),
    premiumUntil: z.string().nullable().meta({ format: "date-time" }),
    isPremium: z.boolean(),
    hasPassword: z.boolean(),
    platformRole: z.enum(["operator"]).nullable().meta({ description: "\"operator\" for the platform operator (manages tenants), else null" }),
    createdAt: z.string().meta({ format: "date-time" }),
  })
  .meta({ id: "User" });

export const UserEnvelope = z.object({ user: User }).meta({ id: "UserEnvelope" });

/** The public shape of a user (API.md "Me"). */
export function userJson(user: UserMessage, now = Date.now()): z.output<typeof User> {
  const premiumUntil = user.premiumUntil ?? null;
  return {
    id: user.id,
    tenantId: user.tenantId,
    email: user.email,
    username: user.username,
    fullName: user.fullName,
    avatarUrl: user.avatarUrl || null,
    // identity stores only these (services/identity/src/domain/user.ts)
    role: user.role as z.output<typeof Role>,
    status: user.status as z.output<typeof UserStatus>,
    trustLevel: user.trustLevel,
    premiumUntil,
    isPremium: premiumUntil !== null && Date.parse(premiumUntil) > now,
    hasPassword: user.hasPassword,
    platformRole: user.platformRole === "operator" ? "operator" : null,
    createdAt: user.createdAt,
  };
}
