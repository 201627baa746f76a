// Fuzzes the BFF from its own OpenAPI document with schemathesis (PyPI), signed out and signed in.
//   npm run fuzz     (uses MONGO_URL/REDIS_URL/AMQP_URL, or deploy/local/infra.sh; FUZZ_EXAMPLES per operation and pass)
// Fails on any server error or any response that contradicts the document.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startSystem } from "@tessera/platform/launcher";
import { HttpClient } from "@tessera/platform/testing";
import { startDemoUpstream } from "../../services/chat/src/demo-upstream/demo-upstream.ts";

const root = new URL("../..", import.meta.url).pathname;
const venv = join(root, ".data/fuzz-venv");
const schemathesis = join(venv, "bin/schemathesis");
const examples = process.env.FUZZ_EXAMPLES ?? "60";
if (!existsSync(schemathesis)) {
  console.log("[fuzz] installing schemathesis into .data/fuzz-venv");
  for (const command of [["python3", ["-m", "venv", venv]], [join(venv, "bin/pip"), ["install", "-q", "schemathesis==3.39.16", "hypothesis==6.120.0"]]] as const) {
    if (spawnSync(command[0], command[1], { stdio: "inherit" }).status !== 0) process.exit(1);
  }
}

const name = `fuzz_${Date.now().toString(36)}`;
const mongo = new URL(process.env.MONGO_URL!);
mongo.pathname = `/${name}`;
const upstream = await startDemoUpstream({ tokenDelayMs: 1 });
const system = await startSystem({
  randomPorts: true,
  env: {
    MONGO_URL: mongo.toString(),
    REDIS_URL: process.env.REDIS_URL,
    AMQP_URL: process.env.AMQP_URL,
    REDIS_KEY_PREFIX: `${name}:`,
    AMQP_NAME_PREFIX: `${name}.`,
    INTERNAL_GRPC_TOKEN: randomBytes(24).toString("base64url"),
    SECRETS_KEYRING: `k1:${randomBytes(32).toString("base64")}`,
    LOG_LEVEL: "warn",
    DEFAULT_LLM_BASE_URL: upstream.url,
    DEFAULT_LLM_MODELS: "demo-echo",
    UPSTREAM_ALLOWED_HOSTS: "127.0.0.1",
  },
  onOutput: (service, line) => {
    if (/"level":"(error|fatal)"|"level":5\d/.test(line)) console.log(`${service} | ${line}`);
  },
});

let failed = false;
let requests = 0;
try {
  const browser = new HttpClient(system.baseUrl);
  const user = { email: `${name}@example.com`, username: name, password: "a fuzzing passphrase" };
  if ((await browser.post("/api/v1/auth/register", user)).status !== 201) throw new Error("could not register the fuzzing user");
  const token = await browser.fetchCsrf();
  const passes: Array<{ label: string; headers: string[] }> = [
    { label: "signed out", headers: [] },
    { label: "signed in", headers: ["-H", `Cookie: ${browser.cookieHeader()}`, "-H", `X-CSRF-Token: ${token}`, "-H", `Origin: ${browser.origin()}`] },
  ];
  for (const pass of passes) {
    const cassette = join(root, `.data/${name}-${pass.label.replace(" ", "-")}.yaml`);
    console.log(`[fuzz] ${pass.label}: ${examples} examples per operation`);
    const run = spawnSync(
      schemathesis,
      [
        "run", `${system.baseUrl}/api/v1/openapi.json`, "--experimental=openapi-3.1", "--base-url", system.baseUrl, "--checks", "all", "--hypothesis-max-examples", examples,
        "--hypothesis-seed", "10", "--hypothesis-suppress-health-check", "all", "--exclude-path-regex", "logout|/auth/oauth/", "--cassette-path", cassette, ...pass.headers,
      ],
      { stdio: "inherit", env: { ...process.env, SCHEMATHESIS_HOOKS: "" } },
    );
    if (existsSync(cassette)) {
      requests += (readFileSync(cassette, "utf8").match(/^- id:/gm) ?? []).length;
      rmSync(cassette);
    }
    if (run.status !== 0) failed = true;
  }
  console.log(`[fuzz] ${requests} requests; ${failed ? "FAILURES (see above)" : "no server errors, every response as documented"}`);
} finally {
  await system.stopAll();
  await upstream.close();
}
process.exit(failed ? 1 : 0);
