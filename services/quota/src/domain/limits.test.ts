import { describe, expect, it } from "vitest";
import { defaultTenantSettings, resolveLimits, type LimitOverrides, type TenantLimitSettings } from "./limits.ts";

const now = new Date("2026-03-10T12:00:00Z");
const future = new Date("2026-04-01T00:00:00Z");
const past = new Date("2026-03-01T00:00:00Z");
const none: LimitOverrides = { messages: null, tokens: null };

const tenant = (defaults: LimitOverrides, premium: LimitOverrides): TenantLimitSettings => ({
  ...defaultTenantSettings("t1"),
  defaultLimits: defaults,
  premiumLimits: premium,
});

describe("limit precedence: user override, premium default while premium, tenant default, 100 / 500,000", () => {
  const cases: Array<[string, { overrides: LimitOverrides; premiumUntil: Date | null }, TenantLimitSettings, { messages: number; tokens: number }]> = [
    ["nothing configured", { overrides: none, premiumUntil: null }, tenant(none, none), { messages: 100, tokens: 500_000 }],
    ["tenant default", { overrides: none, premiumUntil: null }, tenant({ messages: 20, tokens: 1_000 }, none), { messages: 20, tokens: 1_000 }],
    [
      "tenant default for one member only",
      { overrides: none, premiumUntil: null },
      tenant({ messages: 20, tokens: null }, none),
      { messages: 20, tokens: 500_000 },
    ],
    [
      "premium default while premium",
      { overrides: none, premiumUntil: future },
      tenant({ messages: 20, tokens: 1_000 }, { messages: 300, tokens: 9_000 }),
      { messages: 300, tokens: 9_000 },
    ],
    [
      "premium that ended uses the tenant default",
      { overrides: none, premiumUntil: past },
      tenant({ messages: 20, tokens: 1_000 }, { messages: 300, tokens: 9_000 }),
      { messages: 20, tokens: 1_000 },
    ],
    [
      "premium without premium limits falls back to the tenant default",
      { overrides: none, premiumUntil: future },
      tenant({ messages: 20, tokens: null }, { messages: null, tokens: 9_000 }),
      { messages: 20, tokens: 9_000 },
    ],
    [
      "override wins over premium",
      { overrides: { messages: 5, tokens: 50 }, premiumUntil: future },
      tenant({ messages: 20, tokens: 1_000 }, { messages: 300, tokens: 9_000 }),
      { messages: 5, tokens: 50 },
    ],
    [
      "override of one member",
      { overrides: { messages: null, tokens: 77 }, premiumUntil: null },
      tenant({ messages: 20, tokens: 1_000 }, none),
      { messages: 20, tokens: 77 },
    ],
    ["an override of zero blocks", { overrides: { messages: 0, tokens: null }, premiumUntil: null }, tenant(none, none), { messages: 0, tokens: 500_000 }],
    [
      "premium until exactly now is over",
      { overrides: none, premiumUntil: now },
      tenant(none, { messages: 300, tokens: 9_000 }),
      { messages: 100, tokens: 500_000 },
    ],
  ];
  it.each(cases)("%s", (_name, user, settings, expected) => {
    expect(resolveLimits(user, settings, now)).toEqual(expected);
  });
});
