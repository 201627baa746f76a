import { describe, expect, it } from "vitest";
import { defaultMemoryTrimPolicy, memoryTrimStep, type MemoryTrimState } from "./memory-trim.ts";

const MB = 1024 * 1024;
const run = (start: MemoryTrimState, samples: Array<[rssMb: number, utilization: number]>) => {
  let state = start;
  return samples.map(([rss, utilization]) => {
    const step = memoryTrimStep(state, rss * MB, utilization, defaultMemoryTrimPolicy);
    state = step.state;
    return step.collect;
  });
};

describe("memoryTrimStep", () => {
  const start = { baselineRss: 130 * MB, quietFor: 0 };

  it("collects once a grown process has been quiet for two intervals", () => {
    expect(
      run(start, [
        [300, 0.9],
        [300, 0.01],
        [300, 0.01],
      ]),
    ).toEqual([false, false, true]);
  });

  it("leaves a busy process alone, however large", () => {
    expect(
      run(start, [
        [300, 0.9],
        [320, 0.5],
        [330, 0.2],
        [330, 0.06],
      ]),
    ).toEqual([false, false, false, false]);
  });

  it("does not collect for growth under the threshold", () => {
    expect(
      run(start, [
        [140, 0.01],
        [140, 0.01],
        [140, 0.01],
      ]),
    ).toEqual([false, false, false]);
  });

  it("measures growth from the lowest resident size seen", () => {
    expect(
      run({ baselineRss: 200 * MB, quietFor: 0 }, [
        [120, 0.01],
        [150, 0.01],
      ]),
    ).toEqual([false, true]);
  });

  it("waits for quiet intervals again after collecting", () => {
    expect(
      run(start, [
        [300, 0.01],
        [300, 0.01],
        [300, 0.01],
        [300, 0.01],
      ]),
    ).toEqual([false, true, false, true]);
  });
});
