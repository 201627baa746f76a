import { describe, expect, it } from "vitest";
import { safeReturnTo, withQueryParameter } from "./return-to.ts";

describe("returnTo", () => {
  it("keeps same-origin paths with their query and fragment", () => {
    expect(safeReturnTo("/")).toBe("/");
    expect(safeReturnTo("/settings?tab=accounts#linked")).toBe("/settings?tab=accounts#linked");
    expect(safeReturnTo("/chats/abc")).toBe("/chats/abc");
  });

  it.each([
    "//evil.example",
    "//evil.example/path",
    "/\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " /x",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "%2F%2Fevil.example",
    "",
    "/api/v1/me",
    "/v1/models",
  ])("refuses %j", (value) => {
    expect(safeReturnTo(value)).toBeUndefined();
  });

  it("leaves encoded slashes encoded, so they stay a path on this site", () => {
    expect(safeReturnTo("/%2F%2Fevil.example")).toBe("/%2F%2Fevil.example");
    expect(safeReturnTo("/%5Cevil.example")).toBe("/%5Cevil.example");
    expect(safeReturnTo("/./..//evil.example")).toBeUndefined();
  });

  it("adds a query parameter", () => {
    expect(withQueryParameter("/settings?tab=a#x", "oauthError", "oauth_denied")).toBe("/settings?tab=a&oauthError=oauth_denied#x");
  });
});
