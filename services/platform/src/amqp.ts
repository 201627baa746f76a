import type { ChannelModel, ConfirmChannel, Options } from "amqplib";
import type { Dependency } from "./health.ts";
import type { Logger } from "./logger.ts";

/** Declares topology and consumers on a fresh channel; runs again after every reconnect. */
export type ChannelSetup = (channel: ConfirmChannel) => Promise<void>;

/**
 * One AMQP connection with a confirm channel that reconnects forever with backoff and re-runs
 * every registered setup (exchanges, queues, consumers) on each new channel.
 */
export function connectAmqp(url: string, logger: Logger, name = "rabbitmq") {
  let connection: ChannelModel | undefined;
  let channel: ConfirmChannel | undefined;
  let closing = false;
  let attempt = 0;
  const setups: ChannelSetup[] = [];
  let readyWaiters: Array<() => void> = [];

  const connect = async (): Promise<void> => {
    while (!closing) {
      try {
        // Loaded on connect rather than with the platform: only chat and quota use the broker.
        const { default: amqp } = await import("amqplib");
        const target = new URL(url);
        if (!target.searchParams.has("heartbeat")) target.searchParams.set("heartbeat", "15");
        const conn = await amqp.connect(target.toString(), { clientProperties: { connection_name: name } });
        const ch = await conn.createConfirmChannel();
        conn.on("error", (error: Error) => logger.warn({ err: error.message }, "amqp connection error"));
        ch.on("error", (error: Error) => logger.warn({ err: error.message }, "amqp channel error"));
        const lost = () => {
          if (connection !== conn) return;
          connection = undefined;
          channel = undefined;
          if (!closing) {
            logger.warn("amqp connection lost; reconnecting");
            void connect();
          }
        };
        conn.on("close", lost);
        ch.on("close", () => {
          if (connection === conn && !closing) void conn.close().catch(() => undefined);
          lost();
        });
        for (const setup of setups) await setup(ch);
        connection = conn;
        channel = ch;
        if (attempt > 0) logger.info("amqp reconnected");
        attempt = 0;
        for (const resolve of readyWaiters) resolve();
        readyWaiters = [];
        return;
      } catch (error) {
        attempt += 1;
        const delay = Math.min(200 * 2 ** Math.min(attempt, 5), 5_000);
        logger.warn({ err: (error as Error).message, attempt, delay }, "amqp connect failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };

  const started = connect();

  return {
    started,
    /** Registers a setup; applied now when connected, and after each reconnect. */
    async addSetup(setup: ChannelSetup): Promise<void> {
      setups.push(setup);
      if (channel) await setup(channel);
    },
    /** Resolves once a channel is up (waits through reconnects). */
    whenReady(): Promise<void> {
      if (channel) return Promise.resolve();
      return new Promise((resolve) => readyWaiters.push(resolve));
    },
    /** Publishes and resolves when the broker confirms it (rejects when not connected or nacked). */
    async publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void> {
      const ch = channel;
      if (!ch) throw new Error("amqp not connected");
      await new Promise<void>((resolve, reject) => {
        ch.publish(exchange, routingKey, content, { persistent: true, ...options }, (error) =>
          error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
        );
      });
    },
    dependency: {
      name,
      check: async () => {
        if (!channel) throw new Error("not connected");
      },
    } satisfies Dependency,
    async close(): Promise<void> {
      closing = true;
      const conn = connection;
      connection = undefined;
      channel = undefined;
      await conn?.close().catch(() => undefined);
    },
  };
}

export type AmqpConnection = ReturnType<typeof connectAmqp>;
