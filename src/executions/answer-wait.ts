// How long a reader waits before its answer: for new output, for a burst of output to go quiet, or
// for the end. Whatever the mode, once END has begun the wait goes on to the end, so the final
// status comes with END's output in one answer.

import type { Execution } from "./execution.js";

export type WaitMode = "output" | "quiet" | "end";

export interface WaitOptions {
  /** The reader's offset: only output past it counts. */
  offset: number;
  until: WaitMode;
  timeoutMs: number;
  /** Quiet mode: this long without a new line ends the wait. */
  quietMs?: number;
  /** Quiet mode: this many bytes ready past offset fill a page; no need to wait for quiet. */
  pageBytes: number;
  /** Called about every `tickMs` while waiting (progress notifications). */
  onTick?: () => void;
  tickMs?: number;
}

const DEFAULT_QUIET_MS = 500;
const CHECK_MS = 100;

/** Resolves when the answer is ready by `options.until`, at the end of the run, or at the timeout. */
export async function waitForAnswer(execution: Execution, options: WaitOptions): Promise<void> {
  const quietMs = options.quietMs ?? DEFAULT_QUIET_MS;
  let seenTotal = execution.ring.linesTotal;
  let changedAt = Date.now();
  let lastTick = Date.now();
  const ready = (): boolean => {
    if (execution.ending) return false;
    const available = execution.readableUpTo;
    if (options.until === "end") return false;
    if (available <= options.offset) return false;
    if (options.until === "output") return true;
    if (execution.ring.bytesBetween(options.offset, available, options.pageBytes) >= options.pageBytes) return true;
    if (execution.ring.linesTotal !== seenTotal) {
      seenTotal = execution.ring.linesTotal;
      changedAt = Date.now();
      return false;
    }
    return Date.now() - changedAt >= quietMs;
  };
  const tickMs = options.tickMs ?? 1_000;
  await execution.waitUntil(ready, options.timeoutMs, {
    everyMs: CHECK_MS,
    onTick: () => {
      if (options.onTick && Date.now() - lastTick >= tickMs) {
        lastTick = Date.now();
        options.onTick();
      }
    },
  });
}
