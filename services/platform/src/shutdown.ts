import type { Logger } from "./logger.ts";

/** Runs the registered closers in reverse order on SIGTERM/SIGINT, then exits; in-flight work finishes first. */
export function createShutdown(logger: Logger, timeoutMs = 15_000) {
  const closers: Array<{ name: string; close: () => Promise<void> | void }> = [];
  let shuttingDown = false;
  const run = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => {
      logger.error("shutdown timed out; exiting");
      process.exit(1);
    }, timeoutMs);
    force.unref();
    for (const closer of [...closers].reverse()) {
      try {
        await closer.close();
      } catch (error) {
        logger.warn({ err: error, closer: closer.name }, "error while closing");
      }
    }
    logger.info("stopped");
    process.exit(0);
  };
  process.once("SIGTERM", () => void run("SIGTERM"));
  process.once("SIGINT", () => void run("SIGINT"));
  return {
    /** Registers something to close; later registrations close first. */
    add(name: string, close: () => Promise<void> | void) {
      closers.push({ name, close });
    },
    isShuttingDown: () => shuttingDown,
    run,
  };
}
export type Shutdown = ReturnType<typeof createShutdown>;
