import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ACCESS_TOKEN_ALGORITHM, ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER, createCallerVerifier } from "./auth.ts";

async function signer() {
  const { publicKey, privateKey } = await generateKeyPair(ACCESS_TOKEN_ALGORITHM);
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: ACCESS_TOKEN_ALGORITHM };
  const sign = (expiresInSeconds: number) =>
    new SignJWT({ tid: "t1", role: "user", sid: "s1" })
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, kid: "k1" })
      .setSubject("u1")
      .setIssuer(ACCESS_TOKEN_ISSUER)
      .setAudience(ACCESS_TOKEN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
      .sign(privateKey);
  return { jwks: { keys: [jwk] }, sign };
}

describe("createCallerVerifier", () => {
  afterEach(() => vi.useRealTimers());

  it("answers a token it verified before from memory, but never past its expiry", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { jwks, sign } = await signer();
    const verify = createCallerVerifier(async () => jwks);
    const token = await sign(60);
    const first = await verify(token);
    expect(first).toMatchObject({ tenantId: "t1", userId: "u1", kind: "session", sessionId: "s1" });
    expect(await verify(token)).toEqual(first);
    vi.setSystemTime(Date.now() + 61_000);
    await expect(verify(token)).rejects.toMatchObject({ code: "token_expired" });
  });

  it("refuses a token whose signature does not match, also after a good one", async () => {
    const { jwks, sign } = await signer();
    const verify = createCallerVerifier(async () => jwks);
    const token = await sign(60);
    await verify(token);
    const [header, payload, signature] = token.split(".");
    const forged = `${header}.${payload}.${signature!.slice(0, -4)}AAAA`;
    await expect(verify(forged)).rejects.toMatchObject({ code: "invalid_token" });
  });
});
