import type { TestProject } from "vitest/node";

/**
 * Makes real servers available to integration and e2e tests: the URLs in the environment when
 * given (deploy/local/infra.sh prints them), otherwise containers started with testcontainers.
 */
export default async function setup(project: TestProject) {
  const stops: Array<() => Promise<unknown>> = [];
  if (!process.env.MONGO_URL || !process.env.REDIS_URL || !process.env.AMQP_URL) {
    const { GenericContainer, Wait } = await import("testcontainers");
    if (!process.env.MONGO_URL) {
      const mongo = await new GenericContainer("mongo:8").withExposedPorts(27017).withWaitStrategy(Wait.forLogMessage(/Waiting for connections/)).start();
      stops.push(() => mongo.stop());
      process.env.MONGO_URL = `mongodb://${mongo.getHost()}:${mongo.getMappedPort(27017)}/tessera`;
    }
    if (!process.env.REDIS_URL) {
      const redis = await new GenericContainer("redis:7").withExposedPorts(6379).start();
      stops.push(() => redis.stop());
      process.env.REDIS_URL = `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`;
    }
    if (!process.env.AMQP_URL) {
      const rabbit = await new GenericContainer("rabbitmq:3.13").withExposedPorts(5672).withWaitStrategy(Wait.forLogMessage(/Server startup complete/)).start();
      stops.push(() => rabbit.stop());
      process.env.AMQP_URL = `amqp://guest:guest@${rabbit.getHost()}:${rabbit.getMappedPort(5672)}`;
    }
  }
  project.provide("mongoUrl", process.env.MONGO_URL!);
  project.provide("redisUrl", process.env.REDIS_URL!);
  project.provide("amqpUrl", process.env.AMQP_URL!);
  return async () => {
    for (const stop of stops) await stop();
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    mongoUrl: string;
    redisUrl: string;
    amqpUrl: string;
  }
}
