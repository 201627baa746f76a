import { effectiveTenantLimits, validateTenantSettings, type LimitOverrides, type TenantLimitSettings } from "../domain/limits.ts";
import { requireAdmin, type Caller } from "../domain/ports.ts";
import type { QuotaContext } from "./quota-context.ts";

export interface TenantLimitsView extends TenantLimitSettings {
  effective: ReturnType<typeof effectiveTenantLimits>;
}

const view = (settings: TenantLimitSettings): TenantLimitsView => ({ ...settings, effective: effectiveTenantLimits(settings) });

/** Admins read their tenant's default and premium limits and its time zone. */
export function getTenantLimits(context: QuotaContext) {
  return async (caller: Caller): Promise<TenantLimitsView> => {
    requireAdmin(caller);
    return view(await context.ports.settings.get(caller.tenantId));
  };
}

/** Admins replace sections of their tenant's limit settings; sections not given stay as they are. */
export function updateTenantLimits(context: QuotaContext) {
  return async (caller: Caller, changes: { defaultLimits?: LimitOverrides; premiumLimits?: LimitOverrides; timeZone?: string }): Promise<TenantLimitsView> => {
    requireAdmin(caller);
    const current = await context.ports.settings.get(caller.tenantId);
    const next = validateTenantSettings({
      tenantId: caller.tenantId,
      defaultLimits: changes.defaultLimits ?? current.defaultLimits,
      premiumLimits: changes.premiumLimits ?? current.premiumLimits,
      timeZone: changes.timeZone ?? current.timeZone,
    });
    const saved = await context.ports.settings.save(next);
    context.forgetSettings(caller.tenantId);
    return view(saved);
  };
}
