import type { OutputRing, RingBudget } from "./ring-buffer.js";

/** What the budget can take output from: a finished run, which gives up all of its output at once. */
export interface EvictableOutput {
  /** Drops the run's output, saying so in its results. */
  evictOutput(): void;
}

/**
 * The bytes all executions' output holds together, running and finished, against one limit
 * (BPFTRACE_MCP_OUTPUT_BUDGET_BYTES). Counted as rings hold them: whole chunks and the slot
 * arrays, not line lengths. Past the limit the oldest finished runs give up their output first;
 * if that is not enough, the run that is printing drops its own oldest lines.
 */
export class OutputBudget implements RingBudget {
  private held = 0;

  /** `finishedOldestFirst` lists the finished runs that still hold output, the one that ended first first. */
  constructor(
    readonly limitBytes: number,
    private readonly finishedOldestFirst: () => Iterable<EvictableOutput>,
  ) {}

  /** Bytes held by every ring counted here. */
  get heldBytes(): number {
    return this.held;
  }

  charge(delta: number): void {
    this.held += delta;
  }

  settle(ring: OutputRing): void {
    if (this.held <= this.limitBytes) return;
    for (const finished of this.finishedOldestFirst()) {
      finished.evictOutput();
      if (this.held <= this.limitBytes) return;
    }
    ring.shrinkTo(Math.max(0, ring.bytesKept - (this.held - this.limitBytes)));
  }
}
