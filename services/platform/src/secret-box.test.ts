import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createSecretBox, keyringEnv } from "./secret-box.ts";

const key = () => randomBytes(32).toString("base64");

describe("secret box", () => {
  it("encrypts with the first key and decrypts with any key of the ring (rotation)", () => {
    const oldKey = `k1:${key()}`;
    const before = createSecretBox(oldKey);
    const box = before.encrypt("sk-upstream-secret");
    expect(box).not.toContain("sk-upstream-secret");
    const rotated = createSecretBox(`k2:${key()},${oldKey}`);
    expect(rotated.decrypt(box)).toBe("sk-upstream-secret");
    expect(rotated.isStale(box)).toBe(true);
    expect(rotated.isStale(rotated.encrypt("x"))).toBe(false);
  });

  it("refuses tampered boxes and unknown keys", () => {
    const box = createSecretBox(`k1:${key()}`);
    const sealed = box.encrypt("value");
    const parts = sealed.split(":");
    parts[4] = Buffer.from("tampered").toString("base64url");
    expect(() => box.decrypt(parts.join(":"))).toThrow();
    expect(() => createSecretBox(`k1:${key()}`).decrypt(sealed)).toThrow();
  });

  it("validates the keyring variable", () => {
    expect(keyringEnv.safeParse(`k1:${key()}`).success).toBe(true);
    expect(keyringEnv.safeParse("k1:tooshort").success).toBe(false);
    expect(keyringEnv.safeParse("").success).toBe(false);
  });
});
