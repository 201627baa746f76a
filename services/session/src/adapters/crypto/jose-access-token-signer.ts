import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from "jose";
import {
  ACCESS_TOKEN_ALGORITHM,
  ACCESS_TOKEN_AUDIENCE,
  ACCESS_TOKEN_ISSUER,
  CALLER_TOKEN_AUDIENCE,
  newId,
  newUuid,
  type Clock,
  type Connection,
  type SecretBox,
} from "@tessera/platform";
import { Schema } from "mongoose";
import type { AccessTokenSigner } from "../../domain/ports.ts";
import { ACCESS_TOKEN_TTL_SECONDS } from "../../domain/session.ts";

const signingKeySchema = new Schema(
  {
    _id: { type: String, required: true },
    publicJwk: { type: Object, required: true },
    encryptedPrivateJwk: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false, collection: "signing_keys" },
);

interface SigningKeyDocument {
  _id: string;
  publicJwk: JWK;
  encryptedPrivateJwk: string;
  createdAt: Date;
}

/**
 * ES256 signing keys kept in MongoDB (private halves encrypted). The newest key signs; older keys
 * stay published until every token they signed has expired, so rotation signs nobody out.
 */
export function createJoseAccessTokenSigner(options: {
  connection: Connection;
  box: SecretBox;
  clock: Clock;
  rotateAfterDays: number;
}): AccessTokenSigner & { ensureCurrentKey(): Promise<void> } {
  const Keys = options.connection.model<SigningKeyDocument>("SigningKey", signingKeySchema);
  let current: { kid: string; key: Awaited<ReturnType<typeof importJWK>>; createdAt: Date } | undefined;
  let published: { keys: object[]; loadedAt: number } | undefined;
  const retentionMs = (ACCESS_TOKEN_TTL_SECONDS + 3600) * 1000;

  const load = async () => {
    const newest = await Keys.findOne().sort({ createdAt: -1 }).lean<SigningKeyDocument>();
    if (!newest) return;
    let jwk: JWK;
    try {
      jwk = JSON.parse(options.box.decrypt(newest.encryptedPrivateJwk)) as JWK;
    } catch (error) {
      throw new Error(`signing key ${newest._id} cannot be decrypted: SECRETS_KEYRING lacks the key it was encrypted with`, { cause: error });
    }
    current = { kid: newest._id, key: await importJWK(jwk, ACCESS_TOKEN_ALGORITHM), createdAt: newest.createdAt };
    published = undefined;
  };

  return {
    async ensureCurrentKey() {
      await load();
      const maxAgeMs = options.rotateAfterDays * 24 * 3600 * 1000;
      if (current && options.clock.now().getTime() - current.createdAt.getTime() < maxAgeMs) return;
      const { publicKey, privateKey } = await generateKeyPair(ACCESS_TOKEN_ALGORITHM, { extractable: true });
      const kid = newId();
      const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ACCESS_TOKEN_ALGORITHM, use: "sig" };
      const privateJwk = await exportJWK(privateKey);
      await Keys.create({ _id: kid, publicJwk, encryptedPrivateJwk: options.box.encrypt(JSON.stringify(privateJwk)), createdAt: options.clock.now() });
      await load();
    },
    async sign(claims, ttlSeconds) {
      if (!current) await this.ensureCurrentKey();
      const signingKey = current!;
      const now = Math.floor(options.clock.now().getTime() / 1000);
      return new SignJWT({ tid: claims.tenantId, role: claims.role, sid: claims.sessionId })
        .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, kid: signingKey.kid, typ: "at+jwt" })
        .setSubject(claims.userId)
        .setJti(newUuid())
        .setIssuer(ACCESS_TOKEN_ISSUER)
        .setAudience(ACCESS_TOKEN_AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + ttlSeconds)
        .sign(signingKey.key);
    },
    async signCaller(caller, ttlSeconds) {
      if (!current) await this.ensureCurrentKey();
      const signingKey = current!;
      const now = Math.floor(options.clock.now().getTime() / 1000);
      return new SignJWT({ tid: caller.tenantId, role: caller.role, ...(caller.platformRole ? { prl: caller.platformRole } : {}), scp: [...caller.scopes], akid: caller.apiKeyId })
        .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, kid: signingKey.kid, typ: "caller+jwt" })
        .setSubject(caller.userId)
        .setJti(newUuid())
        .setIssuer(ACCESS_TOKEN_ISSUER)
        .setAudience(CALLER_TOKEN_AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + ttlSeconds)
        .sign(signingKey.key);
    },
    async jwks() {
      if (published && Date.now() - published.loadedAt < 10_000) return { keys: published.keys };
      const docs = await Keys.find().sort({ createdAt: -1 }).lean<SigningKeyDocument[]>();
      // The newest key, plus older ones that may still have live tokens.
      const keys = docs
        .filter((doc, index) => index === 0 || options.clock.now().getTime() - docs[index - 1]!.createdAt.getTime() < retentionMs)
        .map((doc) => doc.publicJwk);
      published = { keys, loadedAt: Date.now() };
      return { keys };
    },
  };
}
