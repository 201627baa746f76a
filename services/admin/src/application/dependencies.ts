import { forbidden, type Clock } from "@tessera/platform";
import { redact, type AuditRecord } from "../domain/audit.ts";
import type { Actor, AuditLog, IdentityPort, ProviderPort, SettingsPublisher, SettingsRepository, UsagePort, UserFields } from "../domain/ports.ts";

export interface AdminDependencies<User extends UserFields, DayUsage, Series, ModelUsage> {
  settings: SettingsRepository;
  publisher: SettingsPublisher;
  audit: AuditLog;
  identity: IdentityPort<User>;
  usage: UsagePort<DayUsage, Series, ModelUsage>;
  providers: ProviderPort;
  clock: Clock;
  newId(): string;
}

/** The one place admin use cases are authorized: tenant admins for their tenant, the operator for tenants. */
export function authorization(identity: IdentityPort<UserFields>) {
  return {
    requireAdmin(actor: Actor): void {
      if (actor.role !== "admin") throw forbidden("Only administrators can do this.");
    },
    async requireOperator(actor: Actor): Promise<void> {
      if ((await identity.platformRoleOf(actor.tenantId, actor.userId)) !== "operator") throw forbidden("Only the platform operator can do this.");
    },
  };
}

/** Writes one audit entry, secrets redacted from before and after. */
export function auditRecorder(deps: { audit: AuditLog; clock: Clock; newId(): string }) {
  return (actor: Actor, scope: string, entry: Pick<AuditRecord, "action" | "targetType" | "targetId"> & { before: unknown; after: unknown }) =>
    deps.audit.append({
      id: deps.newId(),
      at: deps.clock.now(),
      scope,
      actorId: actor.userId,
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId,
      before: redact(entry.before ?? null),
      after: redact(entry.after ?? null),
      requestId: actor.requestId,
    });
}
