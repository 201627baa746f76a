import { unavailable } from "@tessera/platform";

/** Driver errors that mean "the database is not reachable right now" (the event is retried later). */
function isOutage(error: unknown): boolean {
  const name = (error as { name?: string }).name ?? "";
  // mongoose buffers operations while disconnected and gives up with this message.
  if (/buffering timed out/.test((error as Error).message ?? "")) return true;
  return (
    /MongoNetwork|MongoServerSelection|MongoNotConnected|MongoTopologyClosed|PoolClosed|MongoPoolCleared/.test(name) ||
    (error as { code?: number }).code === 6 ||
    (error as { code?: number }).code === 89
  );
}

/** Runs a database operation; an unreachable database becomes 503 (retried later, never dead-lettered). */
export async function guarded<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (isOutage(error)) throw unavailable("The usage database", error);
    throw error;
  }
}
