import { describe, expect, it } from "vitest";
import { redact } from "./audit.ts";

describe("audit redaction", () => {
  it("replaces secrets at any depth and keeps key descriptions", () => {
    const value = {
      name: "OpenAI",
      addKeys: ["sk-live-123456"],
      keys: [{ id: "abc", last4: "3456" }],
      nested: { password: "hunter2", newPassword: "x", apiKey: "sk-1", token: "t", ok: 1, tokens: 500 },
      list: [{ secret: "s" }],
    };
    expect(redact(value)).toEqual({
      name: "OpenAI",
      addKeys: "[redacted]",
      keys: [{ id: "abc", last4: "3456" }],
      nested: { password: "[redacted]", newPassword: "[redacted]", apiKey: "[redacted]", token: "[redacted]", ok: 1, tokens: 500 },
      list: [{ secret: "[redacted]" }],
    });
  });
});
