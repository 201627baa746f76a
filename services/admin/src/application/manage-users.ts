import type { Actor, UserChanges, UserFields } from "../domain/ports.ts";
import { auditRecorder, authorization, type AdminDependencies } from "./dependencies.ts";

/** Admins list, read and change the users of their own tenant; every change is audited. */
export function manageUsers<User extends UserFields, D, S, M>(deps: AdminDependencies<User, D, S, M>) {
  const { requireAdmin } = authorization(deps.identity);
  const record = auditRecorder(deps);
  return {
    async list(actor: Actor, query: { query: string; status: string; role: string; limit: number; cursor: string }) {
      requireAdmin(actor);
      return deps.identity.listUsers(actor, query);
    },
    async get(actor: Actor, userId: string): Promise<User> {
      requireAdmin(actor);
      return deps.identity.getUser(actor, userId);
    },
    async update(actor: Actor, userId: string, changes: UserChanges): Promise<User> {
      requireAdmin(actor);
      const before = await deps.identity.getUser(actor, userId);
      const after = await deps.identity.updateUser(actor, userId, changes);
      await record(actor, actor.tenantId, { action: "user.update", targetType: "user", targetId: userId, before, after });
      return after;
    },
  };
}
