import { describe, expect, it } from "vitest";
import { loadCommonPasswords } from "./common-passwords.ts";

describe("common passwords", () => {
  it("ships at least 10,000 and matches case-insensitively", () => {
    const list = loadCommonPasswords();
    for (const password of ["password", "12345678", "iloveyou", "QWERTYUIOP", "Password1"]) expect(list.has(password), password).toBe(true);
    expect(list.has("correct horse battery staple 42")).toBe(false);
  });
});
