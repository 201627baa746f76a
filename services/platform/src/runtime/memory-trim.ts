/**
 * Gives the system back the memory a busy period left behind.
 *
 * When V8's heap shrinks after load it keeps the emptied 256 KB pages pooled, still resident,
 * until a memory-reducing collection. Its memory reducer starts one only once it measures a low
 * allocation rate, which it never does in a quiet server: the rate is sampled at collections, and
 * a quiet process collects nothing, so it keeps judging the last busy period. After 300 req/s a
 * service stayed 100-150 MB above what its heap used. A process that has grown and then stays
 * quiet runs that collection here; a busy one is left alone.
 */
export interface MemoryTrimPolicy {
  /** Growth of the resident size over the last trim (or start) that is worth a collection. */
  growthBytes: number;
  /** Share of one core (0-1) the process used in an interval under which the interval is quiet. */
  quietCpuShare: number;
  /** Consecutive quiet intervals before trimming. */
  quietIntervals: number;
}

export const defaultMemoryTrimPolicy: MemoryTrimPolicy = { growthBytes: 16 * 1024 * 1024, quietCpuShare: 0.1, quietIntervals: 2 };

export interface MemoryTrimState {
  baselineRss: number;
  quietFor: number;
}

/** One interval's decision: the new state and whether to collect now. */
export function memoryTrimStep(
  state: MemoryTrimState,
  rss: number,
  cpuShare: number,
  policy: MemoryTrimPolicy,
): { state: MemoryTrimState; collect: boolean } {
  const quietFor = cpuShare < policy.quietCpuShare ? state.quietFor + 1 : 0;
  const baselineRss = Math.min(state.baselineRss, rss);
  const collect = quietFor >= policy.quietIntervals && rss - baselineRss >= policy.growthBytes;
  return { state: { baselineRss, quietFor: collect ? 0 : quietFor }, collect };
}

export type FullCollection = (options: { type: "major"; execution: "sync"; flavor: "last-resort" }) => void;

/**
 * Checks every intervalMs (on an unref'd timer) and, when the process is quiet after growing, runs
 * a memory-reducing collection, which also releases V8's pooled pages; the resident size after it
 * is the next baseline. Quiet is judged by CPU time, which a machine busy with other work does not
 * inflate as it does the event loop's wall-clock utilisation. Returns a stop function.
 */
export function startMemoryTrim(
  collect: FullCollection,
  options: { intervalMs?: number; policy?: MemoryTrimPolicy; onTrim?: (before: number, after: number) => void } = {},
): () => void {
  const policy = options.policy ?? defaultMemoryTrimPolicy;
  const intervalMs = options.intervalMs ?? 3_000;
  let state: MemoryTrimState = { baselineRss: process.memoryUsage.rss(), quietFor: 0 };
  let lastCpu = process.cpuUsage();
  const timer = setInterval(() => {
    const used = process.cpuUsage(lastCpu);
    lastCpu = process.cpuUsage();
    const step = memoryTrimStep(state, process.memoryUsage.rss(), (used.user + used.system) / 1000 / intervalMs, policy);
    state = step.state;
    if (!step.collect) return;
    const before = process.memoryUsage.rss();
    collect({ type: "major", execution: "sync", flavor: "last-resort" });
    const after = process.memoryUsage.rss();
    state = { ...state, baselineRss: after };
    options.onTrim?.(before, after);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
