import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createServer } from "node:net";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { defaultPorts } from "./common-config.ts";

/** The processes of the system, in start order. */
export const SERVICES = ["identity", "session", "quota", "chat", "admin", "bff"] as const;
export type ServiceName = (typeof SERVICES)[number];

const repositoryRoot = fileURLToPath(new URL("../../../", import.meta.url));
// The project's pinned Node (the `node` devDependency), whatever node started this process.
const pinnedNode = join(repositoryRoot, "node_modules/.bin/node");
const nodeBinary = existsSync(pinnedNode) ? pinnedNode : process.execPath;
const serviceScript = join(repositoryRoot, "deploy/service.sh");

export interface SystemOptions {
  /** Variables for every process (infrastructure URLs, secrets, PUBLIC_BASE_URL…). */
  env: Record<string, string | undefined>;
  /** Pick free ports instead of the defaults (tests). */
  randomPorts?: boolean;
  bffPort?: number;
  /** Where each line of output goes (defaults to this process's stdout, prefixed). */
  onOutput?: (service: ServiceName, line: string) => void;
  readyTimeoutMs?: number;
}

export interface RunningSystem {
  baseUrl: string;
  ports: Record<ServiceName, { grpc: number; probe: number }>;
  env: Record<string, string>;
  stop(service: ServiceName, signal?: NodeJS.Signals): Promise<number | null>;
  start(service: ServiceName): Promise<void>;
  stopAll(): Promise<void>;
  exitCodes: Partial<Record<ServiceName, number | null>>;
  /** Resident memory of each running service in MB (Linux /proc; empty elsewhere), for benchmarks. */
  rssMb(): Promise<Partial<Record<ServiceName, number>>>;
  /** CPU time each running service has used so far in ms (Linux /proc; empty elsewhere), for benchmarks. */
  cpuMs(): Promise<Partial<Record<ServiceName, number>>>;
}

/** Secrets only some services hold: identity signs session grants, the session service checks them. */
const PRIVATE_SECRETS: Record<string, readonly ServiceName[]> = { SESSION_GRANT_SECRET: ["identity", "session"] };

function withoutPrivateSecrets(variables: Record<string, string | undefined>, service: ServiceName): Record<string, string | undefined> {
  const kept = { ...variables };
  for (const [name, holders] of Object.entries(PRIVATE_SECRETS)) if (!holders.includes(service)) delete kept[name];
  return kept;
}

/**
 * A free loopback port below Linux's ephemeral range (32768+), so that no outgoing connection of
 * another process can take it between this check and the service binding it.
 */
async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
    if (attempt > 200) throw new Error("no free port between 20000 and 32000");
  }
}

async function waitReady(url: string, timeoutMs: number, child: ChildProcess, name: string, recentOutput: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} during start-up:\n${recentOutput()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`${name} was not ready at ${url} within ${timeoutMs} ms`);
}

/** Starts every service and the BFF as real processes and waits until each is ready. */
/** A process's command name and the CPU time it has used in ms (Linux /proc), or null where there is none. */
export async function processCpu(pid: number | string): Promise<{ name: string; cpuMs: number } | null> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks (100/s).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields.length <= 13) return null;
  return { name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), cpuMs: (Number(fields[11]) + Number(fields[12])) * 10 };
}

export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  const ports = {} as RunningSystem["ports"];
  for (const service of SERVICES) {
    if (service === "bff") {
      ports.bff = { grpc: 0, probe: options.bffPort ?? (options.randomPorts ? await freePort() : 8080) };
    } else {
      ports[service] = options.randomPorts
        ? { grpc: await freePort(), probe: await freePort() }
        : { grpc: defaultPorts[service].grpc, probe: defaultPorts[service].probe };
    }
  }
  const baseUrl = `http://127.0.0.1:${ports.bff.probe}`;
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...options.env })) if (value !== undefined) env[key] = value;
  Object.assign(env, {
    // One machine: the internal gRPC ports are not for the network.
    GRPC_BIND_HOST: env.GRPC_BIND_HOST ?? "127.0.0.1",
    PUBLIC_BASE_URL: env.PUBLIC_BASE_URL ?? baseUrl,
    BFF_PORT: String(ports.bff.probe),
    // Identity's grants to open sessions last a minute: a secret made for this run serves every restart of it.
    SESSION_GRANT_SECRET: env.SESSION_GRANT_SECRET ?? randomBytes(32).toString("base64url"),
  });
  for (const service of SERVICES) {
    if (service === "bff") continue;
    const upper = service.toUpperCase();
    env[`${upper}_GRPC_PORT`] = String(ports[service].grpc);
    env[`${upper}_PROBE_PORT`] = String(ports[service].probe);
    env[`${upper}_GRPC_ADDRESS`] = `127.0.0.1:${ports[service].grpc}`;
  }

  const children = new Map<ServiceName, ChildProcess>();
  const exitCodes: RunningSystem["exitCodes"] = {};
  const output = options.onOutput ?? ((service, line) => process.stdout.write(`${service.padEnd(8)} | ${line}\n`));

  const spawnService = async (service: ServiceName) => {
    // deploy/service.sh holds the runtime settings of every service process (V8 heap sizes, malloc
    // arenas) for the launcher, the container image and Tilt alike; it execs node in this process.
    const child = spawn("sh", [serviceScript, service], {
      cwd: repositoryRoot,
      env: { ...withoutPrivateSecrets(process.env, service), ...withoutPrivateSecrets(env, service), OTEL_SERVICE_NAME: service, NODE_BINARY: nodeBinary },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.set(service, child);
    exitCodes[service] = undefined;
    child.on("exit", (code) => {
      exitCodes[service] = code;
    });
    let buffered = "";
    const recent: string[] = [];
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (line.length === 0) continue;
        output(service, line);
        recent.push(line);
        if (recent.length > 20) recent.shift();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    const probe = service === "bff" ? `${baseUrl}/healthz` : `http://127.0.0.1:${ports[service].probe}/healthz`;
    await waitReady(probe, options.readyTimeoutMs ?? 60_000, child, service, () => recent.join("\n"));
  };

  const rssMb = async () => {
    const result: Partial<Record<ServiceName, number>> = {};
    for (const [service, child] of children) {
      if (child.pid === undefined || child.exitCode !== null) continue;
      const status = await readFile(`/proc/${child.pid}/status`, "utf8").catch(() => "");
      const kilobytes = /VmRSS:\s+(\d+)/.exec(status)?.[1];
      if (kilobytes) result[service] = Math.round(Number(kilobytes) / 1024);
    }
    return result;
  };

  const cpuMs = async () => {
    const result: Partial<Record<ServiceName, number>> = {};
    for (const [service, child] of children) {
      if (child.pid === undefined || child.exitCode !== null) continue;
      const usage = await processCpu(child.pid);
      if (usage) result[service] = usage.cpuMs;
    }
    return result;
  };

  const stop = async (service: ServiceName, signal: NodeJS.Signals = "SIGTERM") => {
    const child = children.get(service);
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };

  try {
    await Promise.all(SERVICES.map((service) => spawnService(service)));
  } catch (error) {
    await Promise.all(SERVICES.map((service) => stop(service, "SIGKILL")));
    throw error;
  }

  return {
    baseUrl,
    ports,
    env,
    stop,
    start: spawnService,
    exitCodes,
    rssMb,
    cpuMs,
    stopAll: async () => {
      await Promise.all([...SERVICES].reverse().map((service) => stop(service)));
    },
  };
}
