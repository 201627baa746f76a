import { startSystem, type RunningSystem } from "../launcher.ts";
import { testInfrastructure, testSecrets } from "./index.ts";

export interface TestSystem extends RunningSystem {
  logs: string[];
  infrastructure: ReturnType<typeof testInfrastructure>;
}

/** The whole system as real processes on free ports, with its own database and key prefix. */
export async function startTestSystem(extraEnv: Record<string, string> = {}): Promise<TestSystem> {
  const infrastructure = testInfrastructure("e2e");
  const logs: string[] = [];
  const system = await startSystem({
    randomPorts: true,
    env: {
      MONGO_URL: infrastructure.mongoUrl,
      REDIS_URL: infrastructure.redisUrl,
      AMQP_URL: infrastructure.amqpUrl,
      REDIS_KEY_PREFIX: infrastructure.redisKeyPrefix,
      // Each system gets its own exchange and queues on the shared broker.
      AMQP_NAME_PREFIX: `${infrastructure.name}.`,
      LOG_LEVEL: "info",
      // Every test registers its users from 127.0.0.1; tests of the throttle lower this again.
      REGISTRATION_MAX_PER_IP: "1000",
      // The tests' local upstreams listen on loopback, which must be allowed explicitly.
      UPSTREAM_ALLOWED_HOSTS: "127.0.0.1",
      ...testSecrets(),
      ...extraEnv,
    },
    onOutput: (service, line) => {
      logs.push(`${service} | ${line}`);
      if (process.env.E2E_VERBOSE) process.stdout.write(`${service} | ${line}\n`);
    },
  });
  return Object.assign(system, { logs, infrastructure });
}
