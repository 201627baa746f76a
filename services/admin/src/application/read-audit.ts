import { validationFailed } from "@tessera/platform";
import { PLATFORM_SCOPE, type AuditFilter, type AuditPosition, type AuditRecord } from "../domain/audit.ts";
import type { Actor, UserFields } from "../domain/ports.ts";
import { authorization, type AdminDependencies } from "./dependencies.ts";

const MAX_PAGE = 100;
const DEFAULT_PAGE = 50;

const encode = (position: AuditPosition) => Buffer.from(JSON.stringify({ at: position.at.getTime(), id: position.id, asOf: position.asOf.getTime() })).toString("base64url");

function decode(cursor: string): AuditPosition {
  try {
    const raw = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { at: unknown; id: unknown; asOf: unknown };
    if (typeof raw.at === "number" && typeof raw.id === "string" && typeof raw.asOf === "number") return { at: new Date(raw.at), id: raw.id, asOf: new Date(raw.asOf) };
  } catch {
    // answered below
  }
  throw validationFailed([{ field: "cursor", message: "Use the nextCursor of a previous page." }]);
}

/**
 * The audit log newest first. A cursor remembers where the first page was read, so entries written
 * while an admin pages through never shift or repeat later pages.
 */
export function readAudit<User extends UserFields, D, S, M>(deps: AdminDependencies<User, D, S, M>) {
  const { requireAdmin, requireOperator } = authorization(deps.identity);
  const page = async (scope: string, request: AuditFilter & { limit: number; cursor: string }): Promise<{ items: AuditRecord[]; nextCursor: string }> => {
    const limit = Math.min(MAX_PAGE, request.limit > 0 ? request.limit : DEFAULT_PAGE);
    const position = request.cursor ? decode(request.cursor) : null;
    const asOf = position?.asOf ?? deps.clock.now();
    const filter: AuditFilter = { actorId: request.actorId || undefined, action: request.action || undefined, targetId: request.targetId || undefined };
    const rows = await deps.audit.page(scope, filter, limit + 1, position ?? { at: new Date(asOf.getTime() + 1), id: "", asOf });
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > limit && last ? encode({ at: last.at, id: last.id, asOf }) : "" };
  };
  return {
    async tenant(actor: Actor, request: AuditFilter & { limit: number; cursor: string }) {
      requireAdmin(actor);
      return page(actor.tenantId, request);
    },
    async platform(actor: Actor, request: AuditFilter & { limit: number; cursor: string }) {
      await requireOperator(actor);
      return page(PLATFORM_SCOPE, request);
    },
  };
}
