import type { MapsPrint, ParsedMap } from "../bpftrace/maps.js";
import { MapCapture } from "./map-capture.js";
import { OutputRing, type OutputStream, type RingBudget } from "./ring-buffer.js";

/** `interrupted`: the server running it ended without seeing its end (killed); it is served from the store with what was kept. */
export type ExecutionStatus = "running" | "completed" | "timed_out" | "stopped" | "failed" | "interrupted";

/** Why the server asked bpftrace to stop, if it did. */
export type StopReason = "deadline" | "attach_timeout" | "stop_request" | "shutdown";

export interface ExecutionLimits {
  ringCapacityLines: number;
  ringCapacityBytes: number;
  /** Where the output's bytes are counted with every other run's (the server's output budget). */
  budget?: RingBudget;
  /** Applied to every parsed map (e.g. syscall numbers in a key become names). */
  mapTransform?: (map: ParsedMap) => ParsedMap;
}

/** Lifecycle of an execution as observers see it. */
export type ExecutionEvent = "output" | "attached" | "ended";

/** The record of one bpftrace run: its output ring and how it ended. Mutated only by its supervisor. */
export class Execution {
  readonly ring: OutputRing;
  status: ExecutionStatus = "running";
  attached = false;
  /** When bpftrace reported its probes attached; the timeout counts from here. */
  attachedAt: number | null = null;
  attachedProbes: number | null = null;
  /** bpftrace attached fewer probes than the program names (0.17 skips a uprobe whose symbol is missing). */
  attachShortfall: { attached: number; expected: number } | null = null;
  /** Where each SIGUSR1 snapshot's maps begin and end in the output (absolute line offsets). */
  readonly snapshots: { begin: number; end: number | null }[] = [];
  exitCode: number | null = null;
  exitSignal: string | null = null;
  /** Human-readable cause of a failure (bpftrace's own message where there is one). */
  error: string | null = null;
  stopReason: StopReason | null = null;
  /** The signals the server sent to end the run, in order. */
  readonly signalsSent: string[] = [];
  endedAt: number | null = null;
  /** Set when the end of this run could not be written to the audit log. */
  auditWarning: string | null = null;
  truncatedLines = 0;
  /** Served from the execution store: run by an earlier server process, or by another one on the same state directory. */
  stored = false;
  /** Set when this run's record could not be (fully) written to the execution store. */
  storeWarning: string | null = null;
  /** The first stderr lines, kept apart from the ring so a flood cannot evict the error message. */
  readonly stderrHead: string[] = [];
  /** The map printings found in the output, parsed (END's, snapshots', print()'s). */
  readonly maps: MapCapture;
  /** Events bpftrace reported lost (`Lost N events`: its buffer overflowed). */
  lostEvents = 0;
  /** A library example this run was started from, if any. */
  example: string | null = null;
  private readonly waiters = new Set<() => void>();
  private readonly observers = new Set<(event: ExecutionEvent) => void>();
  private readonly endWaiters: (() => void)[] = [];

  constructor(
    readonly id: string,
    readonly program: string,
    readonly timeoutSeconds: number,
    readonly startedAt: number,
    limits: ExecutionLimits,
    /** The principal that started it (Principal.id): only it, or an admin, may see or stop it. */
    readonly ownerId = "local",
  ) {
    this.ring = new OutputRing(limits.ringCapacityLines, limits.ringCapacityBytes, limits.budget ?? null);
    this.maps = new MapCapture(limits.mapTransform);
  }

  /** The parsed map printings, oldest first: what results show and storage keeps. */
  get mapPrints(): readonly MapsPrint[] {
    return this.maps.prints;
  }

  /** Each map as printed last (END's printing over earlier snapshots), in printing order. */
  latestMaps(): MapsPrint[] {
    const seen = new Set<string>();
    const kept: MapsPrint[] = [];
    for (let index = this.maps.prints.length - 1; index >= 0; index -= 1) {
      const print = this.maps.prints[index];
      if (!print) continue;
      const maps = print.maps.filter((map) => !seen.has(map.name));
      for (const map of maps) seen.add(map.name);
      if (maps.length > 0) kept.unshift(maps.length === print.maps.length ? print : { ...print, maps });
    }
    return kept;
  }

  /**
   * Output lines a reader may have now: all of them once the run ended; before that, none from a
   * map printing still arriving, nor anything END printed (END's output comes whole, with the end).
   */
  get readableUpTo(): number {
    let limit = this.ring.linesTotal;
    if (this.finished) return limit;
    if (this.maps.endBeganAt !== null) limit = Math.min(limit, this.maps.endBeganAt);
    const open = this.maps.openFrom;
    if (open !== null) limit = Math.min(limit, open);
    return limit;
  }

  /** END has begun or the server asked bpftrace to stop: the run ends within the grace period. */
  get ending(): boolean {
    return !this.finished && (this.maps.endBeganAt !== null || this.stopReason !== null);
  }

  /** Calls `observer` on every event until the returned function is called. */
  observe(observer: (event: ExecutionEvent) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** Tells observers; a throwing observer is a bug of its own and does not stop the others. */
  emit(event: ExecutionEvent): void {
    for (const observer of this.observers) {
      try {
        observer(event);
      } catch {
        // Observers are notification senders: losing one notification must not break the run.
      }
    }
  }

  get finished(): boolean {
    return this.endedAt !== null;
  }

  /** Milliseconds from spawn to exit (or to `now` while running). */
  durationMs(now: number): number {
    return (this.endedAt ?? now) - this.startedAt;
  }

  /** Stores `bytes[start, end)` as a line (the ring keeps a reference to `bytes`). */
  appendBytes(stream: OutputStream, bytes: Buffer, start: number, end: number): void {
    this.ring.pushBytes(stream, bytes, start, end);
  }

  /** Stores lines `from <= i < to` of a batch from the line splitter. */
  appendBatch(stream: OutputStream, bytes: Buffer, starts: Int32Array, ends: Int32Array, from: number, to: number): void {
    this.ring.pushBatch(stream, bytes, starts, ends, from, to);
  }

  /** Stores a stderr line; the first ones are also kept as text for the error message. */
  appendStderr(text: string, bytes: Buffer, start: number, end: number): void {
    this.ring.pushBytes("stderr", bytes, start, end);
    if (this.stderrHead.length < 40) this.stderrHead.push(text);
  }

  /** Wakes long-pollers and observers; called once per chunk, not per line. */
  notify(): void {
    if (this.observers.size > 0) this.emit("output");
    if (this.waiters.size === 0) return;
    const woken = [...this.waiters];
    this.waiters.clear();
    for (const wake of woken) wake();
  }

  /** Some of the output was dropped to stay within the server's memory budget (BPFTRACE_MCP_OUTPUT_BUDGET_BYTES). */
  get outputEvicted(): boolean {
    return this.ring.evictedForBudget;
  }

  /** Gives up the kept output to the server's budget; the results say so (outputEvicted). */
  evictOutput(): void {
    this.ring.clear(true);
  }

  /** Records the end; the status is decided by the supervisor. */
  finish(status: ExecutionStatus, endedAt: number): void {
    this.status = status;
    this.endedAt = endedAt;
    // No more output: a last read chunk mostly of cut lines is compacted now.
    this.ring.seal();
    this.notify();
    for (const resolve of this.endWaiters.splice(0)) resolve();
    this.emit("ended");
  }

  /**
   * Resolves when `ready()` holds (checked now, after every chunk of output and every `everyMs`),
   * when the run ends, or after `timeoutMs`; `onTick` runs every `everyMs` meanwhile (progress).
   */
  waitUntil(ready: () => boolean, timeoutMs: number, tick?: { everyMs: number; onTick?: () => void }): Promise<void> {
    if (this.finished || timeoutMs <= 0 || ready()) return Promise.resolve();
    return new Promise((resolve) => {
      let ticker: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        if (ticker) clearInterval(ticker);
        this.waiters.delete(check);
        resolve();
      };
      const check = (): void => {
        if (this.finished || ready()) done();
        else this.waiters.add(check);
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      if (tick) {
        ticker = setInterval(() => {
          tick.onTick?.();
          if (this.finished || ready()) done();
        }, tick.everyMs);
        ticker.unref();
      }
      this.waiters.add(check);
    });
  }

  /** Resolves when there is output past `lineCount`, when the run ends, or after `timeoutMs`. */
  waitForOutput(lineCount: number, timeoutMs: number): Promise<void> {
    if (this.finished || this.ring.linesTotal > lineCount || timeoutMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      // Woken once per chunk: keep waiting while the new output is still before the caller's offset.
      const check = (): void => {
        if (this.finished || this.ring.linesTotal > lineCount) done();
        else this.waiters.add(check);
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      this.waiters.add(check);
    });
  }


  /** Resolves when the run has ended, or after `timeoutMs` (whichever is first). */
  waitForEnd(timeoutMs: number): Promise<void> {
    if (this.finished) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.endWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
