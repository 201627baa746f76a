// Fuzzes the BFF from its own OpenAPI document with schemathesis (PyPI), signed out and signed in.
//   npm run fuzz     (uses MONGO_URL/REDIS_URL/AMQP_URL, or deploy/local/infra.sh)
//   FUZZ_EXAMPLES    examples per operation and pass (default 10; the coverage phase adds its own); FUZZ_SEED (default 10);
//   FUZZ_LINKS=0     do not follow the document's links from created resources
// Generates valid and invalid requests (schemathesis "positive" and "negative" data, plus its
// coverage phase: boundary values, missing parameters, methods a path does not have) in five
// passes: an outsider with no credentials at all, a signed-out browser (CSRF cookie and token), a
// personal API key with every scope, the platform operator's browser session and a tenant admin's
// browser session. Every response is checked against the document. Prints the requests per pass
// and the failures per check, and exits non-zero on any server error or any response that
// contradicts the document. The request log of each pass stays in .data/fuzz-last/.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startSystem } from "@tessera/platform/launcher";
import { HttpClient, testSecrets } from "@tessera/platform/testing";
import { startDemoUpstream } from "../../services/chat/src/demo-upstream/demo-upstream.ts";

const root = new URL("../..", import.meta.url).pathname;
const venv = join(root, ".data/fuzz-venv");
const schemathesis = join(venv, "bin/schemathesis");
const examples = process.env.FUZZ_EXAMPLES ?? "10";
const seed = process.env.FUZZ_SEED ?? "10";
const logDir = join(root, ".data/fuzz-last");
// Follows the document's links (a created chat's id into reading, renaming, listing, sending and
// deleting; a new key or tenant likewise) unless FUZZ_LINKS=0.
const followLinks = process.env.FUZZ_LINKS !== "0";
if (!existsSync(schemathesis)) {
  console.log("[fuzz] installing schemathesis into .data/fuzz-venv");
  for (const command of [["python3", ["-m", "venv", venv]], [join(venv, "bin/pip"), ["install", "-q", "schemathesis==3.39.16", "hypothesis==6.120.0"]]] as const) {
    if (spawnSync(command[0], command[1], { stdio: "inherit" }).status !== 0) process.exit(1);
  }
}

/**
 * Checks switched off, each for one reason:
 * - ignored_auth, in the passes that carry a credential: it strips every credential, the CSRF
 *   token included, and expects 401, but the BFF refuses a state-changing request without a CSRF
 *   token with 403 before it looks for a session (API.md). `auth_enforced` (fuzz_hooks.py) checks
 *   the same thing knowing the scheme: without the session cookie or API key, or with a forged
 *   one, the CSRF token kept, the answer must be 401.
 */
const credentialChecksOff = ["--exclude-checks", "ignored_auth"];
/**
 * Left out of every pass: /readyz, whose documented 503 reports the shared servers' state at that
 * moment (a document store slower than the probe's deadline on a loaded machine), not how the BFF
 * handles a request; it takes no input (tests/e2e/security.test.ts covers what it shows to whom).
 */
const probes = "^/readyz$";

const name = `fuzz_${Date.now().toString(36)}`;
const admin = { email: `${name}-admin@example.com`, username: `${name}_admin`, password: randomBytes(18).toString("base64url") };
const operator = { email: `${name}-operator@example.com`, password: randomBytes(18).toString("base64url") };
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
    ...testSecrets(),
    LOG_LEVEL: "warn",
    DEFAULT_LLM_BASE_URL: upstream.url,
    DEFAULT_LLM_MODELS: "demo-echo",
    UPSTREAM_ALLOWED_HOSTS: "127.0.0.1",
    FIRST_ADMIN_EMAIL: admin.email,
    FIRST_ADMIN_USERNAME: admin.username,
    FIRST_ADMIN_PASSWORD: admin.password,
    OPERATOR_EMAIL: operator.email,
    OPERATOR_PASSWORD: operator.password,
  },
  onOutput: (service, line) => {
    if (/"level":"(error|fatal)"|"level":5\d/.test(line)) console.log(`${service} | ${line}`);
  },
});

interface Pass {
  label: string;
  signedIn: boolean;
  cookies?: string;
  headers?: Record<string, string>;
  args: string[];
}

interface Tally {
  requests: number;
  serverErrors: number;
  /** Of the server errors, 503s: a dependency down or slower than its deadline (e.g. a saturated machine). */
  unavailable: number;
  failures: Map<string, number>;
}

/** Counts a pass's requests, 5xx answers and failed checks from its schemathesis cassette. */
function tally(cassette: string): Tally {
  const result: Tally = { requests: 0, serverErrors: 0, unavailable: 0, failures: new Map() };
  if (!existsSync(cassette)) return result;
  let check: string | undefined;
  for (const line of readFileSync(cassette, "utf8").split("\n")) {
    if (line.startsWith("- id: ")) result.requests += 1;
    const checkName = /^ {4}- name: '(\w+)'$/.exec(line);
    if (checkName) check = checkName[1];
    const checkStatus = /^ {6}status: '(\w+)'$/.exec(line);
    if (checkStatus && check) {
      if (checkStatus[1] === "FAILURE" || checkStatus[1] === "ERROR") result.failures.set(check, (result.failures.get(check) ?? 0) + 1);
      check = undefined;
    }
    const code = /^ {6}code: '(\d+)'$/.exec(line);
    if (code && Number(code[1]) >= 500) result.serverErrors += 1;
    if (code && Number(code[1]) === 503) result.unavailable += 1;
  }
  return result;
}

let failed = false;
const tallies: Array<{ pass: Pass; tally: Tally; exitCode: number | null }> = [];
try {
  const signIn = async (login: string, password: string) => {
    const browser = new HttpClient(system.baseUrl);
    const response = await browser.post("/api/v1/auth/login", { login, password });
    if (response.status !== 200) throw new Error(`could not sign in as ${login}: ${response.status}`);
    return { browser, token: await browser.fetchCsrf() };
  };
  const adminSession = await signIn(admin.email, admin.password);
  const operatorSession = await signIn(operator.email, operator.password);
  const created = await adminSession.browser.post("/api/v1/me/api-keys", { name: "fuzz", scopes: ["inference", "chats:read", "chats:write", "usage:read"] });
  if (created.status !== 201) throw new Error(`could not create the fuzzing API key: ${created.status}`);
  const apiKey = ((await created.json()) as { key: string }).key;
  const visitor = new HttpClient(system.baseUrl);
  const visitorToken = await visitor.fetchCsrf();
  const browserHeaders = (token: string) => ({ "X-CSRF-Token": token, Origin: visitor.origin() });

  const notSignedIn = `^/api/v1/auth/(logout|oauth/)|${probes}`;
  // Signing in again, registering or signing out would replace the session being fuzzed.
  const signedInOnly = `^/api/v1/auth/(login|register|logout|oauth/)|${probes}`;
  const passes: Pass[] = [
    { label: "outsider (no credentials)", signedIn: false, args: ["--exclude-path-regex", notSignedIn] },
    {
      label: "signed-out browser",
      signedIn: false,
      cookies: visitor.cookieHeader(),
      headers: browserHeaders(visitorToken),
      args: ["--exclude-path-regex", notSignedIn, "--generation-with-security-parameters=false"],
    },
    {
      label: "API key (every scope)",
      signedIn: true,
      headers: { Authorization: `Bearer ${apiKey}` },
      args: ["--exclude-path-regex", `^/api/v1/auth/|${probes}`, "--generation-with-security-parameters=false", ...credentialChecksOff],
    },
    {
      label: "operator (browser)",
      signedIn: true,
      cookies: operatorSession.browser.cookieHeader(),
      headers: browserHeaders(operatorSession.token),
      args: ["--include-path-regex", "^/api/v1/operator/", "--generation-with-security-parameters=false", ...credentialChecksOff],
    },
    {
      label: "tenant admin (browser)",
      signedIn: true,
      cookies: adminSession.browser.cookieHeader(),
      headers: browserHeaders(adminSession.token),
      args: ["--exclude-path-regex", signedInOnly, "--generation-with-security-parameters=false", ...credentialChecksOff],
    },
  ];

  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  for (const [index, pass] of passes.entries()) {
    const cassette = join(logDir, `${index + 1}-${pass.label.replace(/\W+/g, "-").replace(/-$/, "")}.yaml`);
    console.log(`\n[fuzz] ${pass.label}: up to ${examples} examples per operation`);
    // Not spawnSync: the demo upstream answers from this process, whose event loop must keep running.
    const child = spawn(
      schemathesis,
      [
        "run", `${system.baseUrl}/api/v1/openapi.json`, "--experimental=openapi-3.1", "--experimental=coverage-phase", "--base-url", system.baseUrl,
        "--checks", "all", "--data-generation-method", "all", "--hypothesis-max-examples", examples, "--hypothesis-seed", seed,
        "--hypothesis-database", "none", "--hypothesis-suppress-health-check", "all", `--stateful=${followLinks ? "links" : "none"}`, "--cassette-path", cassette, "--no-color", ...pass.args,
      ],
      {
        stdio: "inherit",
        // Hypothesis keeps a .hypothesis folder in the working directory: under .data, not in the repository.
        cwd: logDir,
        env: {
          ...process.env,
          PYTHONPATH: join(root, "deploy/fuzz"),
          SCHEMATHESIS_HOOKS: "fuzz_hooks",
          FUZZ_COOKIES: pass.cookies ?? "",
          FUZZ_HEADERS: JSON.stringify(pass.headers ?? {}),
          FUZZ_ANONYMOUS_COOKIES: visitor.cookieHeader(),
          FUZZ_ANONYMOUS_HEADERS: JSON.stringify(browserHeaders(visitorToken)),
        },
      },
    );
    const run = { status: await new Promise<number | null>((resolve) => child.on("exit", resolve)) };
    const counted = tally(cassette);
    tallies.push({ pass, tally: counted, exitCode: run.status });
    if (run.status !== 0 || counted.serverErrors > 0 || counted.failures.size > 0) failed = true;
  }
} finally {
  await system.stopAll();
  await upstream.close();
}

const sum = (list: typeof tallies) => list.reduce((total, { tally: counted }) => total + counted.requests, 0);
const failures = new Map<string, number>();
for (const { tally: counted } of tallies) for (const [check, count] of counted.failures) failures.set(check, (failures.get(check) ?? 0) + count);
console.log("\n[fuzz] summary");
for (const { pass, tally: counted, exitCode } of tallies) {
  const failed = [...counted.failures].map(([check, count]) => `${check} ${count}`).join(", ") || "none";
  console.log(`  ${pass.label.padEnd(28)} ${String(counted.requests).padStart(6)} requests, ${counted.serverErrors} server errors${counted.unavailable > 0 ? ` (${counted.unavailable} of them 503)` : ""}, failed checks: ${failed}${exitCode === 0 ? "" : ` (schemathesis exit ${exitCode})`}`);
}
console.log(`  total ${sum(tallies)} requests (signed in ${sum(tallies.filter(({ pass }) => pass.signedIn))}, not signed in ${sum(tallies.filter(({ pass }) => !pass.signedIn))})`);
const unavailable = tallies.reduce((total, { tally: counted }) => total + counted.unavailable, 0);
console.log(`  server errors ${tallies.reduce((total, { tally: counted }) => total + counted.serverErrors, 0)}${unavailable > 0 ? ` (${unavailable} of them 503: a dependency down or slower than its deadline, e.g. on a saturated machine)` : ""}; responses contradicting the document: ${[...failures].map(([check, count]) => `${check} ${count}`).join(", ") || "none"}`);
console.log(failed ? "[fuzz] FAILED (details above; request logs in .data/fuzz-last/)" : "[fuzz] passed");
process.exit(failed ? 1 : 0);
