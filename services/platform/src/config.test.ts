import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { commonServiceEnv, sessionGrantSecretEnv } from "./common-config.ts";
import { checkConfig } from "./config.ts";
import { keyringEnv } from "./secret-box.ts";

const repositoryFile = (path: string) => new URL(`../../../${path}`, import.meta.url);
/** KEY=value lines of an env file (comments and blank lines skipped). */
const envFile = (path: string): Record<string, string> =>
  Object.fromEntries(
    readFileSync(repositoryFile(path), "utf8")
      .split("\n")
      .filter((line) => /^[A-Z_][A-Z0-9_]*=/.test(line))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );

const shape = { ...commonServiceEnv, SECRETS_KEYRING: keyringEnv, SESSION_GRANT_SECRET: sessionGrantSecretEnv };
const SECRETS = ["INTERNAL_GRPC_TOKEN", "SECRETS_KEYRING", "SESSION_GRANT_SECRET"] as const;
const generated = () => ({
  INTERNAL_GRPC_TOKEN: randomBytes(24).toString("base64url"),
  SECRETS_KEYRING: `k1:${randomBytes(32).toString("base64")}`,
  SESSION_GRANT_SECRET: randomBytes(32).toString("base64url"),
});
const problemsOf = (env: Record<string, string>) => checkConfig(shape, env).problems.map((line) => line.slice(0, line.indexOf(":")));

// Every committed file that carries secrets, with what a process started from it would see.
const committedDevelopmentSecrets = {
  "docker compose": { ...envFile(".env.compose"), ...envFile("deploy/compose/session-grant.env") },
  "k8s dev overlay": { ...envFile("k8s/overlays/dev/secrets.dev.env"), ...envFile("k8s/overlays/dev/session-grant.dev.env") },
};

describe("secrets in the configuration", () => {
  it("accepts generated secrets in production mode (the default)", () => {
    expect(problemsOf(generated())).toEqual([]);
  });

  for (const [name, values] of Object.entries(committedDevelopmentSecrets)) {
    it(`refuses every committed secret of the ${name} outside development mode, and takes them in it`, () => {
      for (const secret of SECRETS) expect(values[secret], secret).toBeTruthy();
      const { TESSERA_MODE: _mode, ...secrets } = values;
      expect(problemsOf(secrets).sort()).toEqual([...SECRETS].sort());
      expect(problemsOf({ ...secrets, TESSERA_MODE: "production" }).sort()).toEqual([...SECRETS].sort());
      // Each one alone is enough to refuse the start.
      for (const secret of SECRETS) expect(problemsOf({ ...generated(), [secret]: secrets[secret]! })).toEqual([secret]);
      expect(problemsOf({ ...secrets, TESSERA_MODE: "development" })).toEqual([]);
    });
  }

  it("starts a compose service in development mode only because its file says so", () => {
    expect(committedDevelopmentSecrets["docker compose"].TESSERA_MODE).toBe("development");
  });

  it("refuses the placeholders of .env.example in every mode", () => {
    const example = envFile(".env.example");
    for (const mode of ["production", "development"]) {
      const problems = problemsOf({ ...generated(), ...Object.fromEntries(SECRETS.map((secret) => [secret, example[secret]!])), TESSERA_MODE: mode });
      expect(problems.sort()).toEqual([...SECRETS].sort());
    }
    expect(checkConfig(shape, { ...generated(), INTERNAL_GRPC_TOKEN: example.INTERNAL_GRPC_TOKEN! }).problems).toEqual([
      "INTERNAL_GRPC_TOKEN: still the placeholder from .env.example: generate a secret",
    ]);
  });

  it("refuses an unknown mode", () => {
    expect(problemsOf({ ...generated(), TESSERA_MODE: "staging" })).toEqual(["TESSERA_MODE"]);
  });
});
