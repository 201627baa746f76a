import { tenantSettingsKey, unavailable, type Redis } from "@tessera/platform";
import type { SettingsPublisher } from "../../domain/ports.ts";

/** Publishes a tenant's settings where every process of quota and chat reads them on each request. */
export function createRedisSettingsPublisher(redis: Redis, keyPrefix: string): SettingsPublisher {
  return {
    async publish(snapshot) {
      try {
        await redis.set(tenantSettingsKey(keyPrefix, snapshot.tenantId), JSON.stringify(snapshot));
      } catch (error) {
        throw unavailable("Publishing tenant settings", error);
      }
    },
  };
}
