import { IdentityServiceService } from "@tessera/proto/tessera/identity/v1/identity";
import type { Connection, Redis } from "@tessera/platform";
import { createGrpcClient, createIdentityUserLookup, createSessionCallerVerifier, systemClock, type InvalidationBus, type Logger } from "@tessera/platform";
import { createMongoUsageRollups } from "./adapters/mongo/mongo-usage-rollups.ts";
import { createRedisLiveCounters } from "./adapters/redis/redis-live-counters.ts";
import { createQuotaObserver } from "./adapters/telemetry/quota-observer.ts";
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

/** Identity (users, from the platform cache) and callers (verified locally) as quota sees them. */
export function createPlatformDirectory(options: { identityAddress: string; sessionAddress: string; internalToken: string; bus: InvalidationBus }): {
  users: UserDirectory;
  callers: CallerVerifier;
  close(): void;
} {
  const identity = createGrpcClient(IdentityServiceService, {
    name: "identity",
    address: options.identityAddress,
    internalToken: options.internalToken,
    defaultDeadlineMs: 2_000,
  });
  const verifier = createSessionCallerVerifier({ sessionAddress: options.sessionAddress, internalToken: options.internalToken });
  const lookup = createIdentityUserLookup(identity, options.bus);
  return {
    users: {
      async get(tenantId, userId) {
        const user = await lookup.get(tenantId, userId);
        if (!user) return null;
        return {
          id: user.id,
          tenantId: user.tenantId,
          username: user.username,
          email: user.email,
          premiumUntil: user.premiumUntil,
          overrides: { messages: user.maxMessagesPerDay, tokens: user.maxTokensPerDay },
        };
      },
    },
    callers: { verify: verifier.verify },
    close: () => (identity.close(), verifier.close()),
  };
}
