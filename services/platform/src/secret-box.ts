import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { z } from "zod";
import { secretEnv } from "./config.ts";

/**
 * AES-256-GCM encryption of secrets at rest. Keys come from the environment as
 * "id:base64key[,id:base64key…]"; the first encrypts, all decrypt (rotation: put the new key first,
 * re-encrypt, then drop the old one).
 */
export function createSecretBox(keyring: string) {
  const keys = parseKeyring(keyring);
  const [current] = keys;
  if (!current) throw new Error("empty keyring");
  return {
    encrypt(plaintext: string): string {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", current.key, iv);
      const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      return ["v1", current.id, iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), ciphertext.toString("base64url")].join(":");
    },
    decrypt(box: string): string {
      const [version, id, iv, tag, ciphertext] = box.split(":");
      const entry = keys.find((candidate) => candidate.id === id);
      if (version !== "v1" || !entry || !iv || !tag || ciphertext === undefined) throw new Error("cannot decrypt: unknown key or format");
      const decipher = createDecipheriv("aes-256-gcm", entry.key, Buffer.from(iv, "base64url"));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString("utf8");
    },
    /** Whether a box was made with an older key and should be re-encrypted. */
    isStale: (box: string) => box.split(":")[1] !== current.id,
  };
}

export type SecretBox = ReturnType<typeof createSecretBox>;

function parseKeyring(keyring: string): Array<{ id: string; key: Buffer }> {
  return keyring
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const [id, encoded] = entry.split(":");
      const key = Buffer.from(encoded ?? "", "base64");
      if (!id || key.length !== 32) throw new Error("each key must be id:base64 of 32 bytes");
      return { id, key };
    });
}

/** Schema for a keyring variable (validated at start-up). */
export const keyringEnv = secretEnv(
  z.string({ error: "required: id:base64(32 bytes)[,id:base64…], e.g. k1:$(openssl rand -base64 32)" }).refine((value) => {
    try {
      return parseKeyring(value).length > 0;
    } catch {
      return false;
    }
  }, "must be id:base64(32 bytes)[,id:base64…]"),
);
