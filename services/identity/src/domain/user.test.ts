import { describe, expect, it } from "vitest";
import { passwordProblem } from "./password-policy.ts";
import { emailProblem, isPremium, normalizeEmail, normalizeUsername, usernameProblem } from "./user.ts";
import { normalizeHost } from "./tenant.ts";

describe("user rules", () => {
  it("normalises emails and usernames", () => {
    expect(normalizeEmail("  Ada.Lovelace@Example.COM ")).toBe("ada.lovelace@example.com");
    expect(normalizeUsername(" Ada_L ")).toBe("ada_l");
  });

  it("checks emails and usernames", () => {
    expect(emailProblem("ada@example.com")).toBeUndefined();
    expect(emailProblem("ada@")).toMatchObject({ field: "email" });
    expect(usernameProblem("ab")).toMatchObject({ field: "username" });
    expect(usernameProblem("a".repeat(51))).toMatchObject({ field: "username" });
    expect(usernameProblem("ada.l-1_x")).toBeUndefined();
    expect(usernameProblem(".ada")).toMatchObject({ field: "username" });
    expect(usernameProblem("ada lovelace")).toMatchObject({ field: "username" });
  });

  it("applies length and common-password rules without composition rules", () => {
    const common = (password: string) => password.toLowerCase() === "password123";
    expect(passwordProblem("short", 8, common)).toMatchObject({ message: "Use at least 8 characters." });
    expect(passwordProblem("alllowercaseletters", 8, common)).toBeUndefined();
    expect(passwordProblem("PASSWORD123", 8, common)).toMatchObject({ message: expect.stringMatching(/common/) });
    expect(passwordProblem("x".repeat(64), 8, common)).toBeUndefined();
    expect(passwordProblem("x".repeat(257), 8, common)).toMatchObject({ field: "password" });
    expect(passwordProblem("elevenchars", 12, common)).toMatchObject({ message: "Use at least 12 characters." });
    // Length counts characters, not UTF-16 units.
    expect(passwordProblem("🔑".repeat(8), 8, common)).toBeUndefined();
  });

  it("is premium only while premiumUntil is in the future", () => {
    const now = new Date("2026-06-01T00:00:00Z");
    expect(isPremium({ premiumUntil: new Date("2026-06-02T00:00:00Z") }, now)).toBe(true);
    expect(isPremium({ premiumUntil: new Date("2026-05-31T00:00:00Z") }, now)).toBe(false);
    expect(isPremium({ premiumUntil: null }, now)).toBe(false);
  });

  it("resolves hosts without port or case", () => {
    expect(normalizeHost("Acme.Example:8443")).toBe("acme.example");
    expect(normalizeHost("[::1]:8080")).toBe("[::1]");
  });
});
