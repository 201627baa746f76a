import type { Actor, UserFields } from "../domain/ports.ts";
import { authorization, type AdminDependencies } from "./dependencies.ts";

/** Admins' usage views of their own tenant (quota keeps the counters and rollups). */
export function usageViews<User extends UserFields, D, S, M>(deps: AdminDependencies<User, D, S, M>) {
  const { requireAdmin } = authorization(deps.identity);
  return {
    async day(actor: Actor, request: { date: string; limit: number; cursor: string }): Promise<D> {
      requireAdmin(actor);
      return deps.usage.dayUsage(actor, request);
    },
    async user(actor: Actor, request: { userId: string; from: string; to: string }): Promise<S> {
      requireAdmin(actor);
      return deps.usage.userSeries(actor, request);
    },
    async models(actor: Actor, request: { from: string; to: string; limit: number; cursor: string }): Promise<M> {
      requireAdmin(actor);
      return deps.usage.modelUsage(actor, request);
    },
  };
}
