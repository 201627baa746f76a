// Benchmark: password sign-ins and refresh-token rotations through the real identity and session
// processes over gRPC, on this machine's infrastructure. Prints throughput and p50/p99 latency.
//   npm run bench:auth            (uses MONGO_URL/REDIS_URL/AMQP_URL, or deploy/local/infra.sh)
//   BENCH_PHASES=refresh          only the refresh rotations (no argon2 load on a shared machine)
import { randomBytes } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { hash } from "@node-rs/argon2";
import { IdentityServiceService } from "@tessera/proto/tessera/identity/v1/identity";
import { SessionServiceService } from "@tessera/proto/tessera/session/v1/session";
import { createGrpcClient, percentile } from "@tessera/platform";
import { startSystem } from "@tessera/platform/launcher";

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const phases = new Set((process.env.BENCH_PHASES ?? "login,refresh").split(","));
const name = `bench_${Date.now().toString(36)}`;
const mongo = new URL(process.env.MONGO_URL!);
mongo.pathname = `/${name}`;
const internalToken = randomBytes(24).toString("base64url");
const system = await startSystem({
  randomPorts: true,
  env: {
    MONGO_URL: mongo.toString(),
    REDIS_URL: process.env.REDIS_URL,
    AMQP_URL: process.env.AMQP_URL,
    REDIS_KEY_PREFIX: `${name}:`,
    INTERNAL_GRPC_TOKEN: internalToken,
    SECRETS_KEYRING: `k1:${randomBytes(32).toString("base64")}`,
    LOG_LEVEL: "warn",
    LOGIN_MAX_FAILURES_PER_IP: "1000000",
    // The 16 refresh chains sign in at once (attempts are counted before the password is checked).
    LOGIN_MAX_FAILURES_PER_ACCOUNT: "1000000",
  },
  onOutput: () => undefined,
});
const identity = createGrpcClient(IdentityServiceService, { name: "identity", address: `127.0.0.1:${system.ports.identity.grpc}`, internalToken });
const session = createGrpcClient(SessionServiceService, { name: "session", address: `127.0.0.1:${system.ports.session.grpc}`, internalToken });

async function run(label: string, concurrency: number, operation: (worker: number) => Promise<void>) {
  const latencies: number[] = [];
  const cpuBefore = await system.cpuMs();
  const benchCpuBefore = process.cpuUsage();
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < deadline) {
        const begin = performance.now();
        await operation(worker);
        latencies.push(performance.now() - begin);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpuAfter = await system.cpuMs();
  const benchCpu = process.cpuUsage(benchCpuBefore);
  // CPU per operation (steadier than rates on a shared machine; /proc counts in 10 ms ticks).
  const perOperation = (ms: number) => Math.round((ms * 1000) / Math.max(1, latencies.length));
  const result = {
    label,
    operations: latencies.length,
    perSecond: +(latencies.length / elapsed).toFixed(1),
    p50Ms: +percentile(latencies, 50).toFixed(2),
    p99Ms: +percentile(latencies, 99).toFixed(2),
    cpuMicrosecondsPerOperation: {
      identity: perOperation((cpuAfter.identity ?? 0) - (cpuBefore.identity ?? 0)),
      session: perOperation((cpuAfter.session ?? 0) - (cpuBefore.session ?? 0)),
      benchClient: perOperation((benchCpu.user + benchCpu.system) / 1000),
    },
  };
  console.log(JSON.stringify(result));
  return result;
}

const password = "benchmark passphrase 42";
await identity.register({ tenantId: "default", email: `${name}@example.com`, username: name, password, fullName: "", clientIp: "127.0.0.1" });

// Hashing alone (the same OWASP argon2id parameters), to see what the rest of a login costs.
const loginRuns = phases.has("login")
  ? {
      hashing: await run(
        "argon2id hash only (1 thread)",
        1,
        async () => void (await hash(password, { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 })),
      ),
      sequential: await run(
        "password login over gRPC (one at a time)",
        1,
        async () => void (await identity.verifyPassword({ tenantId: "default", login: name, password, clientIp: "127.0.0.1", deviceId: "" })),
      ),
      logins: await run(
        "password login over gRPC (concurrency 4)",
        4,
        async () => void (await identity.verifyPassword({ tenantId: "default", login: name, password, clientIp: "127.0.0.1", deviceId: "" })),
      ),
    }
  : undefined;

const chains = await Promise.all(
  Array.from({ length: 16 }, () =>
    // Each session needs identity's grant, which a sign-in gives.
    identity
      .verifyPassword({ tenantId: "default", login: name, password, clientIp: "127.0.0.1", deviceId: "" })
      .then(({ sessionGrant }) => session.createSession({ sessionGrant, rememberMe: true, deviceInfo: "bench", ip: "127.0.0.1" })),
  ),
);
const tokens = chains.map((pair) => pair.refreshToken);
const refreshes = await run("refresh with rotation over gRPC (concurrency 16)", 16, async (worker) => {
  const next = await session.refresh({ refreshToken: tokens[worker]!, ip: "127.0.0.1" });
  tokens[worker] = next.refreshToken;
});

console.log(
  JSON.stringify({
    cores: cpus().length,
    ...(loginRuns && {
      loginsPerSecondPerCore: +(loginRuns.logins.perSecond / cpus().length).toFixed(1),
      // One login at a time against one hash at a time: what a login costs besides hashing.
      nonHashingShareOfLogin: +Math.max(0, 1 - loginRuns.hashing.p50Ms / loginRuns.sequential.p50Ms).toFixed(3),
    }),
    refreshesPerSecondPerCore: +(refreshes.perSecond / cpus().length).toFixed(1),
    rssMbAfterRun: await system.rssMb(),
    loadAverage: loadavg().map((value) => +value.toFixed(2)),
  }),
);
identity.close();
session.close();
await system.stopAll();
process.exit(0);
