import type { Connection, Redis } from "@tessera/platform";
import { createCallerVerifier, systemClock, type Logger } from "@tessera/platform";
import { createMongoUsageRollups } from "./adapters/mongo/mongo-usage-rollups.ts";
import { createRedisLiveCounters } from "./adapters/redis/redis-live-counters.ts";
import { createQuotaObserver } from "./adapters/telemetry/quota-observer.ts";
import { createIdentityUserDirectory } from "./adapters/grpc/identity-user-directory.ts";
import { createQuotaUseCases, type QuotaOptions } from "./application/quota-use-cases.ts";
import type { CallerVerifier, QuotaObserver, TenantSettingsRepository, UserDirectory } from "./domain/ports.ts";

/** The concrete stores behind the quota use cases (shared by the service, the rebuild command and the benchmark). */
export async function createQuotaCore(options: {
  mongo: Connection;
  redis: Redis;
  keyPrefix: string;
  users: UserDirectory;
  settings: TenantSettingsRepository;
  logger: Logger;
  quota: QuotaOptions;
  observer?: QuotaObserver;
}) {
  const rollups = createMongoUsageRollups(options.mongo);
  await rollups.ready();
  const useCases = createQuotaUseCases(
    {
      counters: createRedisLiveCounters(options.redis, options.keyPrefix),
      rollups,
      settings: options.settings,
      users: options.users,
      observer: options.observer ?? createQuotaObserver(options.logger),
      clock: systemClock,
    },
    options.quota,
  );
  return useCases;
}

/** Identity (users) and session (tokens) as quota sees them. */
export function createPlatformDirectory(options: { identityAddress: string; sessionAddress: string; internalToken: string }): {
  users: UserDirectory;
  callers: CallerVerifier;
  close(): void;
} {
  const verifier = createCallerVerifier({
    sessionAddress: options.sessionAddress,
    identityAddress: options.identityAddress,
    internalToken: options.internalToken,
  });
  return {
    users: createIdentityUserDirectory(verifier.identity),
    callers: {
      verify: async (token) => {
        const claims = await verifier.verifyCaller(token);
        return { userId: claims.userId, tenantId: claims.tenantId, role: claims.role };
      },
    },
    close: verifier.close,
  };
}
