// Identical refusals within a window become one record and one count: a client repeating a refused
// 64 KiB program hundreds of times adds two lines to the audit log, not hundreds of programs.
import type { AuditRecord } from "./audit-log.js";

/** The record standing for the repeats of one refusal (or validation) within a window. */
export interface RepeatCount {
  event: "repeated";
  /** The event repeated: "refused" or "validate". */
  repeated_event: AuditRecord["event"];
  tool: string;
  execution_id: null;
  program_sha256: string | null;
  program: null;
  decision: AuditRecord["decision"];
  reason?: string;
  principal?: string;
  remote?: string | null;
  /** Times it came again after the record written for it, between first_time and last_time. */
  count: number;
  first_time: string;
  last_time: string;
}

interface Window {
  record: AuditRecord;
  openedAt: number;
  repeats: number;
  lastAt: number;
}

/** Windows open at once; past this the oldest is closed (its count written) early. */
const MAX_WINDOWS = 1_000;

/** Counts repeats of records per window and hands on one RepeatCount per window that had any. */
export class RepeatSummary {
  private readonly windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number,
    private readonly writeCount: (count: RepeatCount) => void,
  ) {}

  /** True when `record` repeats one written within the window (it is counted instead); false opens a window for it. */
  seenRecently(record: AuditRecord): boolean {
    const key = JSON.stringify([record.event, record.tool, record.program_sha256, record.reason ?? null, record.decision, record.principal ?? null, record.remote ?? null]);
    const now = this.now();
    const open = this.windows.get(key);
    if (open && now - open.openedAt < this.windowMs) {
      open.repeats += 1;
      open.lastAt = now;
      return true;
    }
    if (open) this.close(key, open);
    if (this.windows.size >= MAX_WINDOWS) {
      const [oldestKey, oldest] = this.windows.entries().next().value ?? [];
      if (oldestKey !== undefined && oldest) this.close(oldestKey, oldest);
    }
    this.windows.set(key, { record, openedAt: now, repeats: 0, lastAt: now });
    this.schedule();
    return false;
  }

  /** Writes the count of every window that had repeats, and forgets them all. */
  flush(): void {
    for (const [key, window] of this.windows) this.close(key, window);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private close(key: string, window: Window): void {
    this.windows.delete(key);
    if (window.repeats === 0) return;
    const { record } = window;
    this.writeCount({
      event: "repeated",
      repeated_event: record.event,
      tool: record.tool,
      execution_id: null,
      program_sha256: record.program_sha256,
      program: null,
      decision: record.decision,
      ...(record.reason === undefined ? {} : { reason: record.reason }),
      ...(record.principal === undefined ? {} : { principal: record.principal, remote: record.remote ?? null }),
      count: window.repeats,
      first_time: new Date(window.openedAt).toISOString(),
      last_time: new Date(window.lastAt).toISOString(),
    });
  }

  /** Closes expired windows once the oldest open one ends, so a count is written even if nothing else comes. */
  private schedule(): void {
    if (this.timer || this.windows.size === 0) return;
    const oldest = this.windows.values().next().value;
    const delay = oldest ? Math.max(0, oldest.openedAt + this.windowMs - this.now()) : this.windowMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = this.now();
      for (const [key, window] of this.windows) if (now - window.openedAt >= this.windowMs) this.close(key, window);
      this.schedule();
    }, delay + 10);
    this.timer.unref();
  }
}
