import { createPrivateKey, sign as signBytes, type JsonWebKey, type KeyObject } from "node:crypto";
import { exportJWK, generateKeyPair, type JWK } from "jose";
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

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

/**
 * An ECDSA P-256 signature from DER (what OpenSSL gives) to JWS's fixed 64 bytes (r ‖ s, each
 * left-padded to 32). Done here because asking node:crypto for "ieee-p1363" means passing the key
 * in an options object, which costs more CPU per signature (~60–80 µs) than the signing itself.
 */
export function derToJose(der: Buffer): Buffer {
  // SEQUENCE { INTEGER r, INTEGER s }; a P-256 signature is at most 72 bytes: one-byte lengths.
  if (der[0] !== 0x30 || der[1] !== der.length - 2 || der[2] !== 0x02) throw new Error("not a DER ECDSA signature");
  const out = Buffer.alloc(64);
  let offset = 2;
  for (let part = 0; part < 2; part++) {
    if (der[offset] !== 0x02) throw new Error("not a DER ECDSA signature");
    let length = der[offset + 1]!;
    let start = offset + 2;
    offset = start + length;
    // A leading zero only keeps the integer positive.
    while (length > 32 && der[start] === 0) {
      start++;
      length--;
    }
    if (length > 32 || offset > der.length) throw new Error("not a DER ECDSA signature");
    der.copy(out, part * 32 + 32 - length, start, start + length);
  }
  if (offset !== der.length) throw new Error("not a DER ECDSA signature");
  return out;
}

/**
 * A compact JWS (ES256) signed with node:crypto directly: synchronous and several times cheaper in CPU than
 * jose's WebCrypto path, which matters on every refresh. Verifiers use jose as before.
 */
function signJwt(key: { kid: string; key: KeyObject; headers: Map<string, string> }, type: string, payload: object): string {
  let header = key.headers.get(type);
  if (!header) key.headers.set(type, (header = base64url({ alg: ACCESS_TOKEN_ALGORITHM, kid: key.kid, typ: type })));
  const input = `${header}.${base64url(payload)}`;
  const signature = derToJose(signBytes("sha256", Buffer.from(input), key.key));
  return `${input}.${signature.toString("base64url")}`;
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
  let current: { kid: string; key: KeyObject; createdAt: Date; headers: Map<string, string> } | undefined;
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
    current = { kid: newest._id, key: createPrivateKey({ key: jwk as JsonWebKey, format: "jwk" }), createdAt: newest.createdAt, headers: new Map() };
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
      const now = Math.floor(options.clock.now().getTime() / 1000);
      return signJwt(current!, "at+jwt", {
        tid: claims.tenantId,
        role: claims.role,
        sid: claims.sessionId,
        sub: claims.userId,
        jti: newUuid(),
        iss: ACCESS_TOKEN_ISSUER,
        aud: ACCESS_TOKEN_AUDIENCE,
        iat: now,
        exp: now + ttlSeconds,
      });
    },
    async signCaller(caller, ttlSeconds) {
      if (!current) await this.ensureCurrentKey();
      const now = Math.floor(options.clock.now().getTime() / 1000);
      return signJwt(current!, "caller+jwt", {
        tid: caller.tenantId,
        role: caller.role,
        ...(caller.platformRole ? { prl: caller.platformRole } : {}),
        scp: [...caller.scopes],
        akid: caller.apiKeyId,
        sub: caller.userId,
        jti: newUuid(),
        iss: ACCESS_TOKEN_ISSUER,
        aud: CALLER_TOKEN_AUDIENCE,
        iat: now,
        exp: now + ttlSeconds,
      });
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
