import { generateKeyPairSync, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { derToJose } from "./jose-access-token-signer.ts";

const der = (r: number[], s: number[]) => Buffer.from([0x30, 4 + r.length + s.length, 0x02, r.length, ...r, 0x02, s.length, ...s]);

describe("derToJose", () => {
  it("turns OpenSSL's DER signatures into JWS signatures a verifier accepts", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const lengths = new Set<number>();
    // Enough signatures that some have r or s shorter than 32 bytes, and most a leading zero.
    for (let index = 0; index < 1_000; index++) {
      const data = Buffer.from(`payload ${index}`);
      const signature = sign("sha256", data, privateKey);
      lengths.add(signature.length);
      const jose = derToJose(signature);
      expect(jose.length).toBe(64);
      expect(verify("sha256", data, { key: publicKey, dsaEncoding: "ieee-p1363" }, jose)).toBe(true);
    }
    expect(lengths.size).toBeGreaterThan(2);
  });

  it("drops a sign-keeping zero byte and left-pads short integers", () => {
    const r = [0x00, 0x80, ...Array<number>(31).fill(1)];
    const s = Array<number>(30).fill(2);
    const jose = derToJose(der(r, s));
    expect([...jose.subarray(0, 32)]).toEqual([0x80, ...Array<number>(31).fill(1)]);
    expect([...jose.subarray(32)]).toEqual([0, 0, ...Array<number>(30).fill(2)]);
  });

  it("refuses what is not a P-256 DER signature", () => {
    expect(() => derToJose(Buffer.from([0x31, 0x02, 0x02, 0x00]))).toThrow();
    expect(() => derToJose(der(Array<number>(33).fill(1), [1]))).toThrow();
    expect(() => derToJose(Buffer.concat([der([1], [1]), Buffer.from([0])]))).toThrow();
  });
});
