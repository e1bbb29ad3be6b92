import { describe, expect, it } from "vitest";
import { Execution } from "../../src/executions/execution.js";
import { OutputBudget } from "../../src/executions/output-budget.js";

describe("OutputBudget", () => {
  function setup(limitBytes: number): { budget: OutputBudget; runs: Execution[]; start: () => Execution } {
    const runs: Execution[] = [];
    const budget = new OutputBudget(limitBytes, () => runs.filter((run) => run.finished && run.ring.linesTotal > run.ring.linesDropped).sort((left, right) => (left.endedAt ?? 0) - (right.endedAt ?? 0)));
    const start = (): Execution => {
      const run = new Execution(`ex-${String(runs.length).padStart(12, "0")}`, "BEGIN {}", 10, runs.length, { ringCapacityLines: 10_000, ringCapacityBytes: 16 * 1024 * 1024, budget });
      runs.push(run);
      return run;
    };
    return { budget, runs, start };
  }

  /** A 64 KiB read of 1 KiB lines, as the splitter hands it on. */
  function flood(run: Execution, reads: number): void {
    for (let read = 0; read < reads; read += 1) {
      const bytes = Buffer.alloc(65_536, 0x61);
      const starts = new Int32Array(64);
      const ends = new Int32Array(64);
      for (let line = 0; line < 64; line += 1) {
        starts[line] = line * 1024;
        ends[line] = line * 1024 + 1023;
        bytes[line * 1024 + 1023] = 0x0a;
      }
      run.appendBatch("stdout", bytes, starts, ends, 0, 64);
    }
  }

  it("counts every run's held bytes, and gives them back when a run is forgotten", () => {
    const { budget, start } = setup(1 << 30);
    const run = start();
    flood(run, 10);
    expect(budget.heldBytes).toBe(run.ring.bytesHeld);
    expect(budget.heldBytes).toBeGreaterThanOrEqual(10 * 65_536);
    run.ring.detach();
    expect(budget.heldBytes).toBe(0);
  });

  it("evicts the output of the oldest finished runs first, saying so in them, to stay within the limit", () => {
    const limit = 4 * 1024 * 1024;
    const { budget, runs, start } = setup(limit);
    for (let index = 0; index < 6; index += 1) {
      const run = start();
      flood(run, 16); // 1 MiB each
      run.finish("completed", 100 + index);
      expect(budget.heldBytes).toBeLessThanOrEqual(limit);
    }
    const evicted = runs.map((run) => run.outputEvicted);
    expect(evicted).toEqual([true, true, true, false, false, false]);
    expect(runs[0]?.ring.read(0, 10)).toMatchObject({ lines: [], skipped: 1_024 });
    expect(runs[5]?.ring.read(0, 1).lines).toHaveLength(1);
  });

  it("makes a running flood drop its own oldest lines when no finished run is left to evict", () => {
    const limit = 2 * 1024 * 1024;
    const { budget, start } = setup(limit);
    const running = start();
    flood(running, 100);
    expect(budget.heldBytes).toBeLessThanOrEqual(limit);
    expect(running.outputEvicted).toBe(true);
    expect(running.ring.linesDropped).toBeGreaterThan(0);
    expect(running.ring.linesTotal).toBe(6_400);
  });
});
