import { describe, expect, it } from "vitest";
import { defaultTenantSettings } from "@tessera/platform";
import { applySettingsChanges, isIanaTimeZone } from "./settings.ts";

const current = { ...defaultTenantSettings("acme"), updatedAt: null };

describe("tenant settings", () => {
  it("takes IANA names only", () => {
    expect(isIanaTimeZone("Europe/Berlin")).toBe(true);
    expect(isIanaTimeZone("UTC")).toBe(true);
    expect(isIanaTimeZone("Asia/Kolkata")).toBe(true);
    expect(isIanaTimeZone("America/Argentina/Buenos_Aires")).toBe(true);
    expect(isIanaTimeZone("+05:00")).toBe(false);
    expect(isIanaTimeZone("Mars/Olympus")).toBe(false);
  });

  it("names every bad field", () => {
    const attempt = () =>
      applySettingsChanges(current, { defaultLimits: { messages: -1, tokens: 1.5 }, timeZone: "EST5", models: ["nope"] }, ["demo"], new Date());
    expect(attempt).toThrow(expect.objectContaining({ status: 400 }));
    try {
      attempt();
    } catch (error) {
      expect((error as { errors: Array<{ field: string }> }).errors.map((problem) => problem.field)).toEqual(["defaultLimits.messages", "defaultLimits.tokens", "timeZone", "models"]);
    }
  });

  it("replaces only the sections given", () => {
    const next = applySettingsChanges(current, { premiumLimits: { messages: 500, tokens: null }, models: ["a", "a"] }, ["a", "b"], new Date(0));
    expect(next).toMatchObject({ defaultLimits: current.defaultLimits, premiumLimits: { messages: 500, tokens: null }, timeZone: "UTC", models: ["a"], sharedUpstream: false });
  });
});
