import { describe, expect, it } from "vitest";
import { usernameBase, usernameCandidate } from "./oauth.ts";
import { usernameProblem } from "./user.ts";

describe("usernames for new provider users", () => {
  it.each([
    [{ username: "Octo.Cat", email: "x@example.com", displayName: "" }, "octo.cat"],
    [{ username: null, email: "jane.doe+news@example.com", displayName: "" }, "jane.doenews"],
    [{ username: null, email: null, displayName: "Zoë Ångström" }, "zoe-angstrom"],
    [{ username: "_ab_", email: null, displayName: "" }, "ab-user"],
    [{ username: "Пётр", email: null, displayName: "" }, "user"],
    [{ username: "-".repeat(10) + "a".repeat(60), email: null, displayName: "" }, "a".repeat(40)],
  ])("derives a valid one from %j", (profile, expected) => {
    const base = usernameBase(profile);
    expect(base).toBe(expected);
    expect(usernameProblem(base)).toBeUndefined();
  });

  it("tries numbered alternatives, then random ones, all valid", () => {
    expect(usernameCandidate("octo", 0)).toBe("octo");
    expect(usernameCandidate("octo", 1)).toBe("octo-2");
    for (let attempt = 0; attempt < 8; attempt += 1) expect(usernameProblem(usernameCandidate("a".repeat(40), attempt))).toBeUndefined();
  });
});
