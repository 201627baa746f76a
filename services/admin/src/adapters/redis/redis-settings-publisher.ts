import { tenantSettingsKey, unavailable, type InvalidationBus, type Redis } from "@tessera/platform";
import type { SettingsPublisher } from "../../domain/ports.ts";

/**
 * Publishes a tenant's settings where every process of identity, quota and chat reads them, and
 * drops cached copies everywhere (the bus's "tenantSettings" topic) before the change is answered.
 */
export function createRedisSettingsPublisher(redis: Redis, keyPrefix: string, bus: InvalidationBus): SettingsPublisher {
  return {
    async publish(snapshot) {
      try {
        await redis.set(tenantSettingsKey(keyPrefix, snapshot.tenantId), JSON.stringify(snapshot));
      } catch (error) {
        throw unavailable("Publishing tenant settings", error);
      }
      await bus.publish("tenantSettings", [snapshot.tenantId]);
    },
  };
}
