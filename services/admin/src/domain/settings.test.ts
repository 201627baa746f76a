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

  it("keeps a tenant's answer token maximum until it is set back to the installation's default (null)", () => {
    const set = applySettingsChanges(current, { maxCompletionTokens: 256 }, null, new Date(0));
    expect(set.maxCompletionTokens).toBe(256);
    expect(applySettingsChanges(set, { timeZone: "Europe/Berlin" }, null, new Date(0)).maxCompletionTokens).toBe(256);
    expect(applySettingsChanges(set, { maxCompletionTokens: null }, null, new Date(0)).maxCompletionTokens).toBeNull();
    expect(applySettingsChanges(current, { maxCompletionTokens: 1_000_000 }, null, new Date(0)).maxCompletionTokens).toBe(1_000_000);
  });

  it.each([0, -5, 1.5, 1_000_001])("refuses an answer token maximum of %s, naming the field", (value) => {
    try {
      applySettingsChanges(current, { maxCompletionTokens: value }, null, new Date());
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ status: 400, errors: [{ field: "maxCompletionTokens" }] });
    }
  });
});
