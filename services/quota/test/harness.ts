import type { ConfirmChannel } from "amqplib";
import {
  connectAmqp,
  connectMongo,
  connectRedis,
  createLogger,
  createTenantSettingsReader,
  defaultTenantSettings,
  newUuid,
  sessionCaller,
  tenantSettingsKey,
  USAGE_EVENT_TYPE,
  type AmqpConnection,
  type TenantSettingsSnapshot,
} from "@tessera/platform";
import { publishedTenantSettings } from "../src/adapters/redis/published-tenant-settings.ts";
import { testInfrastructure } from "@tessera/platform/testing";
import { amqpUsageEventSink } from "../src/adapters/amqp/amqp-usage-event-sink.ts";
import { createUsageEventConsumer, usageTopology, type UsageConsumerOptions } from "../src/adapters/amqp/usage-event-consumer.ts";
import type { QuotaUser } from "../src/domain/limits.ts";
import type { Caller, QuotaObserver } from "../src/domain/ports.ts";
import type { UsageRecord } from "../src/domain/usage.ts";
import { createQuotaCore } from "../src/wiring.ts";
import type { QuotaUseCases } from "../src/application/quota-use-cases.ts";

export const logger = createLogger("quota-test", process.env.TEST_LOG_LEVEL ?? "silent");

/** Polls until the check passes; the deadline only bounds a failing test. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      return await check();
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw lastError;
}

/**
 * Quota's real stores and consumer against the shared servers, isolated by this file's own
 * database, Redis key prefix and queue/exchange names. Users are an in-memory directory (identity
 * is another service; the e2e tests use the real one).
 */
export async function startQuotaHarness(options: { failOpen?: boolean; redisUrl?: string; reservationTtlSeconds?: number; mongoPort?: number } = {}) {
  const infrastructure = testInfrastructure("quota");
  const mongoUrl = new URL(infrastructure.mongoUrl);
  // A test can route MongoDB through a proxy it takes down (an outage only this file sees).
  if (options.mongoPort) {
    mongoUrl.hostname = "127.0.0.1";
    mongoUrl.port = String(options.mongoPort);
  }
  const mongo = await connectMongo(mongoUrl.toString(), logger);
  const redis = connectRedis(options.redisUrl ?? infrastructure.redisUrl, logger);
  const users = new Map<string, QuotaUser>();
  const outages: Array<{ operation: string; failOpen: boolean }> = [];
  const observer: QuotaObserver = { countersUnavailable: (operation, failOpen) => outages.push({ operation, failOpen }) };
  const userKey = (tenantId: string, userId: string) => `${tenantId}/${userId}`;
  const useCases: QuotaUseCases = await createQuotaCore({
    mongo: mongo.connection,
    redis: redis.redis,
    keyPrefix: infrastructure.redisKeyPrefix,
    users: {
      get: async (tenantId, userId) =>
        users.get(userKey(tenantId, userId)) ?? {
          id: userId,
          tenantId,
          username: `u_${userId}`,
          email: `${userId}@example.com`,
          premiumUntil: null,
          overrides: { messages: null, tokens: null },
        },
    },
    // Tenant settings as the admin service publishes them (no admin service here: missing = defaults).
    settings: publishedTenantSettings(createTenantSettingsReader({ redis: redis.redis, keyPrefix: infrastructure.redisKeyPrefix })),
    logger,
    quota: { failOpen: options.failOpen ?? false, reservationTtlSeconds: options.reservationTtlSeconds ?? 900 },
    observer,
  });
  const topology = usageTopology(`${infrastructure.name}.`);
  const connections: AmqpConnection[] = [];

  const amqpConnection = (name: string) => {
    const connection = connectAmqp(infrastructure.amqpUrl, logger, name);
    connections.push(connection);
    return connection;
  };

  /** A consumer on its own connection; `wrap` lets a test act around the real use case. */
  const startConsumer = async (overrides: Partial<UsageConsumerOptions> = {}) => {
    const amqp = amqpConnection("quota-test-consumer");
    let channel: ConfirmChannel | undefined;
    await amqp.addSetup(async (ch) => {
      channel = ch;
    });
    const consumer = createUsageEventConsumer({
      amqp,
      topology,
      logger,
      prefetch: 64,
      batchSize: 16,
      batchWaitMs: 2,
      retryDelayMs: 200,
      maxAttempts: 3,
      deliveryLimit: 20,
      handleBatch: useCases.recordUsageBatch,
      ...overrides,
    });
    await consumer.start();
    await amqp.whenReady();
    return {
      consumer,
      amqp,
      /** Drops the TCP connection the way a crashed process or a restarted broker would. */
      dropConnection: () =>
        (channel as unknown as { connection: { stream: { destroy(error?: Error): void } } }).connection.stream.destroy(
          new Error("connection dropped by the test"),
        ),
    };
  };

  const publisherConnection = amqpConnection("quota-test-publisher");
  let publisherChannel: ConfirmChannel | undefined;
  await publisherConnection.addSetup(async (channel) => {
    await channel.assertExchange(topology.exchange, "topic", { durable: true });
    publisherChannel = channel;
  });
  await publisherConnection.whenReady();

  const publishRaw = (content: Buffer, messageId: string) =>
    publisherConnection.publish(topology.exchange, USAGE_EVENT_TYPE, content, { messageId, type: USAGE_EVENT_TYPE, contentType: "application/x-protobuf" });

  /** Publishes a usage event (confirmed by the broker), as the service publishes its own. */
  const publish = amqpUsageEventSink(publisherConnection, topology.exchange).publish;

  /** Runs one piece of work on a short-lived channel of its own. */
  const withChannel = async <T>(work: (channel: ConfirmChannel) => Promise<T>): Promise<T> => {
    const connection = connectAmqp(infrastructure.amqpUrl, logger, "quota-test-tool");
    try {
      return await new Promise<T>((resolve, reject) => {
        void connection.addSetup(async (channel) => {
          await work(channel).then(resolve, reject);
        });
      });
    } finally {
      await connection.close();
    }
  };

  /** Messages ready in a queue. */
  const queueDepth = (queue: string) => withChannel(async (channel) => (await channel.checkQueue(queue)).messageCount);

  /** Takes every message from a queue (acknowledging them). */
  const drain = (queue: string) =>
    withChannel(async (channel) => {
      const messages: Array<{ content: Buffer; headers: Record<string, unknown>; messageId: string }> = [];
      for (;;) {
        const message = await channel.get(queue, { noAck: true });
        if (!message) break;
        messages.push({ content: message.content, headers: message.properties.headers ?? {}, messageId: message.properties.messageId });
      }
      return messages;
    });

  /** Publishes a tenant's settings where quota reads them, as the admin service does. */
  const publishSettings = async (tenantId: string, changes: Partial<TenantSettingsSnapshot>) =>
    void (await redis.redis.set(
      tenantSettingsKey(infrastructure.redisKeyPrefix, tenantId),
      JSON.stringify({ ...defaultTenantSettings(tenantId), ...changes }),
    ));

  /** Deletes every Redis key of this file (what "Redis lost its data" looks like to us). */
  const flushRedis = async () => {
    let cursor = "0";
    do {
      const [next, keys] = await redis.redis.scan(cursor, "MATCH", `${infrastructure.redisKeyPrefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.redis.del(...keys);
    } while (cursor !== "0");
  };

  const close = async () => {
    await flushRedis().catch(() => undefined);
    for (const connection of connections) await connection.close();
    await withChannel(async (channel) => {
      for (const queue of [topology.queue, topology.retryQueue, topology.deadLetterQueue]) await channel.deleteQueue(queue);
      await channel.deleteExchange(topology.exchange);
    }).catch(() => undefined);
    await mongo.connection.dropDatabase().catch(() => undefined);
    await mongo.close();
    await redis.close();
  };

  /** Drops the publisher's TCP connection (it reconnects on its own). */
  const dropPublisherConnection = () =>
    (publisherChannel as unknown as { connection: { stream: { destroy(error?: Error): void } } }).connection.stream.destroy(
      new Error("connection dropped by the test"),
    );

  /** Today's rollup of a user as MongoDB holds it (not the live counters). */
  const rollupOf = async (userId: string, tenantId = "t1") => {
    const day = new Date().toISOString().slice(0, 10);
    const document = await mongo.connection
      .db!.collection<{ _id: string; messages: number; tokens: number }>("quota_usage_rollups")
      .findOne({ _id: `${tenantId}/${userId}/${day}` });
    return { messages: document?.messages ?? 0, tokens: document?.tokens ?? 0 };
  };

  return {
    rollupOf,
    dropPublisherConnection,
    infrastructure,
    mongo,
    redis,
    useCases,
    users,
    outages,
    topology,
    startConsumer,
    publish,
    publishRaw,
    queueDepth,
    drain,
    flushRedis,
    publishSettings,
    close,
  };
}

export type QuotaHarness = Awaited<ReturnType<typeof startQuotaHarness>>;

let sequence = 0;

/** A usage event of a finished completion (today, 100 tokens unless told). */
export function usageEvent(fields: Partial<UsageRecord> & { userId: string }): UsageRecord {
  sequence += 1;
  return {
    eventId: newUuid(),
    occurredAt: new Date(),
    tenantId: "t1",
    schemaVersion: 1,
    chatId: "c1",
    messageId: `m${sequence}`,
    model: "demo-model",
    promptTokens: 40,
    completionTokens: 60,
    totalTokens: 100,
    source: "web",
    outcome: "complete",
    reservationId: null,
    ...fields,
  };
}

export const userCaller = (userId: string, tenantId = "t1"): Caller => sessionCaller({ userId, tenantId, role: "user" });
export const adminCaller = (userId = "admin", tenantId = "t1"): Caller => sessionCaller({ userId, tenantId, role: "admin" });
export const uniqueUserId = () => `u${newUuid().slice(0, 8)}`;
