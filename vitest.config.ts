import { defineConfig } from "vitest/config";

// Three projects: fast unit tests beside the code, integration tests against real servers, and
// whole-system tests that spawn the real processes. Server URLs come from MONGO_URL, REDIS_URL
// and AMQP_URL, or from containers started by the global setup when Docker is available.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["services/*/src/**/*.test.ts", "web/src/**/*.test.ts"],
          environment: "node",
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "integration",
          include: ["services/*/test/**/*.test.ts"],
          globalSetup: ["services/platform/src/testing/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          pool: "forks",
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: "e2e",
          include: ["tests/e2e/**/*.test.ts"],
          globalSetup: ["services/platform/src/testing/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          pool: "forks",
          // Each file starts a whole system; two at a time is what two cores carry.
          maxWorkers: 2,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
