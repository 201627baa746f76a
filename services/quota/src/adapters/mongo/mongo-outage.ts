import { isOutage, unavailable } from "@tessera/platform";

/** Runs a database operation; an unreachable database becomes 503 (retried later, never dead-lettered). */
export async function guarded<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (isOutage(error)) throw unavailable("The usage database", error);
    throw error;
  }
}
