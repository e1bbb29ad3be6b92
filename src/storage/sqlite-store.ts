import { join } from "node:path";
import type { MapsPrint } from "../bpftrace/maps.js";
import type { Config } from "../config.js";
import type { Execution } from "../executions/execution.js";
import { recordOf, type ExecutionStore, type SavedSession, type StoredExecution, type StoredPage } from "../executions/store.js";
import { chunkFromRing } from "../executions/stored-output.js";
import type { Logger } from "../logger.js";
import { WorkerBackend, type StoreBackend } from "./backend.js";
import type { StoreFault } from "./faults.js";
import type { FlushEntry, StoreReply, StoreRequest, StoreSettings } from "./protocol.js";
import { DATABASE_FILE } from "./schema.js";

/** A running trace's output reaches the database at most this long after it was read: what a SIGKILL can lose. */
export const FLUSH_INTERVAL_MS = 1_000;
/**
 * A running trace's stored copy is its newest lines, at most this many (a default ring's worth):
 * a flood kept whole by a huge ring is not rewritten to disk every second. At its end every line
 * the ring kept is written.
 */
export const RUNNING_WINDOW_LINES = 10_000;
/** How long a write waits for another server's lock before it is put off to the next batch. */
export const BUSY_TIMEOUT_MS = 1_000;
// Shutdown must finish in the 3 s a client waits: the last batch gets this long.
const CLOSE_LIMIT_MS = 1_500;
// A finished run the store could not take for this long is given up (the registry still has it).
const GIVE_UP_MS = 10 * 60_000;
// Batches are copied into one buffer shared with the store's thread and reused (one batch is in
// flight at a time): the thread allocates nothing per batch, so a flood leaves no garbage there
// for its (rarely running) collector to hold on to. A larger batch gets buffers of its own.
const SHARED_BATCH_BYTES = 2 * 1024 * 1024;

/** What the store has written of one execution. */
interface Tracked {
  execution: Execution;
  /** The next line to write (lines below it were written, or dropped by the ring before they could be). */
  writtenTo: number;
  /** The first line of the stored copy: it holds [writtenFrom, writtenTo), one run with no gap. */
  writtenFrom: number;
  /** How many map printings (MapCapture.regions, which only grows) were written; null: none yet. */
  writtenMaps: number | null;
  /** The record's changing fields as last written; an unchanged running record is not written again. */
  writtenState: string;
  firstFailureAt: number | null;
}

/**
 * Keeps executions in SQLite (src/storage/database.ts, on its own thread): each tracked run's new
 * output lines and state go in one batch a second, copied from its ring as bytes, so the output
 * path itself does no storage work. A storage fault never fails a trace: the run goes on in
 * memory, every result carries health() while it lasts, and the log says so once.
 */
export class SqliteStore implements ExecutionStore {
  readonly persistent = true;
  private readonly tracked = new Map<string, Tracked>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | null = null;
  private flushAgain = false;
  private immediate: NodeJS.Immediate | null = null;
  private fault: StoreFault | null = null;
  private corruptionNotice: string | null = null;
  private closed = false;
  private readonly shared = new SharedArrayBuffer(SHARED_BATCH_BYTES);
  private sharedUsed = 0;

  constructor(
    private readonly backend: StoreBackend,
    readonly file: string,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
    void backend.ready.then((reason) => {
      if (reason !== null) this.noteFault({ kind: "unavailable", message: reason });
    });
    // Opens the file (creating it), then marks runs of dead servers interrupted and applies retention.
    void this.call({ op: "open" });
    this.sweep();
  }

  /** The settings of the store under `config.stateDir` (which must not be null). */
  static settings(config: Config): StoreSettings {
    if (config.stateDir === null) throw new Error("persistence is off");
    return { directory: config.stateDir, retentionMs: config.storeRetentionMs, maxBytes: config.storeMaxBytes, busyTimeoutMs: BUSY_TIMEOUT_MS };
  }

  /** The server's store: SQLite in `config.stateDir`, on a worker thread. */
  static open(config: Config, logger: Logger): SqliteStore {
    const settings = SqliteStore.settings(config);
    return new SqliteStore(new WorkerBackend(settings), join(settings.directory, DATABASE_FILE), logger);
  }

  track(execution: Execution): void {
    if (this.closed || this.fault?.kind === "unavailable") return;
    this.tracked.set(execution.id, { execution, writtenTo: 0, writtenFrom: 0, writtenMaps: null, writtenState: "", firstFailureAt: null });
    this.soon();
  }

  ended(execution: Execution): void {
    if (this.tracked.has(execution.id)) this.soon();
  }

  async list(ownerId: string | null, page: { offset: number; limit: number; exclude: readonly string[]; present?: readonly string[] }): Promise<StoredPage> {
    const value = await this.call({ op: "list", ownerId, offset: page.offset, limit: page.limit, exclude: [...page.exclude], present: [...(page.present ?? [])] });
    return (value as StoredPage | undefined) ?? { total: 0, records: [] };
  }

  async load(id: string): Promise<StoredExecution | null> {
    return ((await this.call({ op: "load", id })) as StoredExecution | null | undefined) ?? null;
  }

  async forget(id: string): Promise<void> {
    // Untracked first: no later batch may write it back.
    this.tracked.delete(id);
    await this.call({ op: "forget", id });
  }

  async put(stored: StoredExecution): Promise<void> {
    await this.call({ op: "put", stored });
  }

  async saveSession(session: SavedSession): Promise<void> {
    await this.call({ op: "saveSession", session });
  }

  async getSession(ownerId: string, name: string): Promise<SavedSession | null> {
    return ((await this.call({ op: "getSession", ownerId, name })) as SavedSession | null | undefined) ?? null;
  }

  async listSessions(ownerId: string | null): Promise<SavedSession[]> {
    return ((await this.call({ op: "listSessions", ownerId })) as SavedSession[] | undefined) ?? [];
  }

  async deleteSession(ownerId: string, name: string): Promise<boolean> {
    return ((await this.call({ op: "deleteSession", ownerId, name })) as boolean | undefined) ?? false;
  }

  sweep(): void {
    if (this.closed) return;
    void this.call({ op: "sweep" }).then((value) => {
      const swept = value as { interrupted: number; deleted: number } | undefined;
      if (swept && (swept.interrupted > 0 || swept.deleted > 0)) this.logger.info({ store: this.file, ...swept }, "execution store swept");
    });
  }

  health(): string | null {
    const fault = this.fault;
    if (fault === null) return null;
    const where = `the execution store ${this.file}`;
    switch (fault.kind) {
      case "unavailable":
        return `${where} is unavailable (${fault.message}): executions are kept in memory only`;
      case "full":
        return `${where} could not be written, the disk is full (${fault.message}): results are kept in memory until there is space`;
      case "unwritable":
        return `${where} could not be written (${fault.message}): results are kept in memory until it is writable`;
      case "busy":
        return `${where} is locked by another process (${fault.message}): results are kept in memory and written once it frees`;
      case "corrupt":
        return `${where} is corrupt and could not be replaced (${fault.message}): results are kept in memory only`;
      case "error":
        return `${where} failed (${fault.message}): results are kept in memory only`;
    }
  }

  notice(): string | null {
    return this.corruptionNotice;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    const finish = async (): Promise<void> => {
      await this.flushing;
      await this.flushNow();
      await this.backend.request({ op: "close" });
    };
    await Promise.race([finish(), new Promise((resolve) => setTimeout(resolve, CLOSE_LIMIT_MS).unref())]);
    await this.backend.terminate();
  }

  /** A batch as soon as the event loop is free (a start or an end should not wait a second). */
  private soon(): void {
    if (this.immediate || this.closed) return;
    this.immediate = setImmediate(() => {
      this.immediate = null;
      void this.flush();
    });
  }

  /** One batch at a time; a request during one makes another follow it. */
  private flush(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = this.flushNow().finally(() => {
      this.flushing = null;
      if (this.flushAgain && !this.closed) {
        this.flushAgain = false;
        void this.flush();
      }
    });
    return this.flushing;
  }

  /** A view of `bytes` in the shared batch buffer (8-byte aligned), or a buffer of its own when it is full. */
  private readonly allocate = (bytes: number): Uint8Array => {
    const start = Math.ceil(this.sharedUsed / 8) * 8;
    if (start + bytes > SHARED_BATCH_BYTES) return new Uint8Array(new ArrayBuffer(bytes));
    this.sharedUsed = start + bytes;
    return new Uint8Array(this.shared, start, bytes);
  };

  private async flushNow(): Promise<void> {
    if (this.fault?.kind === "unavailable") this.tracked.clear();
    if (this.tracked.size === 0) return;
    // The previous batch has been answered: its part of the shared buffer is free again.
    this.sharedUsed = 0;
    const entries: FlushEntry[] = [];
    const sent: { tracked: Tracked; from: number; to: number; maps: MapsPrint[]; state: string; finished: boolean }[] = [];
    for (const tracked of this.tracked.values()) {
      const { execution } = tracked;
      const { ring } = execution;
      const to = ring.linesTotal;
      const finished = execution.finished;
      let from = Math.max(tracked.writtenTo, ring.firstAvailable);
      let storedFrom = Math.max(tracked.writtenFrom, ring.firstAvailable);
      const chunks = [];
      if (!finished) {
        // Only the newest lines while it runs: past a gap the stored copy starts again there.
        const windowStart = Math.max(ring.firstAvailable, to - RUNNING_WINDOW_LINES);
        if (from < windowStart) from = storedFrom = windowStart;
      } else if (ring.firstAvailable < storedFrom) {
        // Ended: the older lines the window left out are written now, ahead of the rest.
        const head = chunkFromRing(ring, ring.firstAvailable, storedFrom, this.allocate);
        if (head) chunks.push(head);
        storedFrom = ring.firstAvailable;
      }
      const tail = chunkFromRing(ring, from, to, this.allocate);
      if (tail) chunks.push(tail);
      const state = stateOf(execution);
      const mapsChanged = execution.maps.regions.length !== tracked.writtenMaps;
      if (chunks.length === 0 && !mapsChanged && state === tracked.writtenState && storedFrom === tracked.writtenFrom) continue;
      const { maps, ...record } = recordOf(execution);
      // The stored copy's own first line: a reader of a running (or interrupted) run gets no gap.
      record.firstAvailable = storedFrom;
      entries.push({ record: mapsChanged ? { ...record, maps } : record, chunks });
      sent.push({ tracked, from: storedFrom, to, maps, state, finished });
    }
    if (entries.length === 0) return;
    const reply = await this.backend.request({ op: "flush", entries });
    this.takeNotice(reply);
    const now = this.now();
    if (reply.ok) {
      this.clearFault();
      for (const { tracked, from, to, maps, state, finished } of sent) {
        tracked.writtenFrom = from;
        tracked.writtenTo = to;
        tracked.writtenMaps = maps.length;
        tracked.writtenState = state;
        tracked.firstFailureAt = null;
        tracked.execution.storeWarning = null;
        if (finished && this.tracked.get(tracked.execution.id) === tracked && tracked.execution.finished) this.tracked.delete(tracked.execution.id);
      }
      return;
    }
    this.noteFault(reply.fault);
    const warning = this.health();
    for (const { tracked } of sent) {
      tracked.firstFailureAt ??= now;
      tracked.execution.storeWarning = warning;
      // The registry keeps it in memory for its retention; the store stops trying.
      if (tracked.execution.finished && now - tracked.firstFailureAt > GIVE_UP_MS) this.tracked.delete(tracked.execution.id);
    }
  }

  private async call(request: StoreRequest): Promise<unknown> {
    const reply = await this.backend.request(request);
    this.takeNotice(reply);
    if (reply.ok) {
      // A read that works says nothing about writes; a write (or open) that works clears the fault.
      if (request.op !== "list" && request.op !== "load" && request.op !== "getSession" && request.op !== "listSessions") this.clearFault();
      return reply.value;
    }
    this.noteFault(reply.fault);
    return undefined;
  }

  private takeNotice(reply: StoreReply): void {
    if (!reply.notice) return;
    this.corruptionNotice = reply.notice;
    this.logger.warn({ store: this.file }, reply.notice);
  }

  private noteFault(fault: StoreFault): void {
    // Logged when it starts failing (or fails another way), not on every batch.
    if (this.fault?.kind !== fault.kind) this.logger.warn({ store: this.file, kind: fault.kind, err: fault.message }, "execution store write failed: results are kept in memory");
    // Once unavailable (the thread or better-sqlite3 could not start), always unavailable.
    if (this.fault?.kind !== "unavailable") this.fault = fault;
  }

  private clearFault(): void {
    if (this.fault === null || this.fault.kind === "unavailable") return;
    this.logger.info({ store: this.file }, "execution store writable again");
    this.fault = null;
  }
}

/** The fields of a record that change while it runs (output aside). */
function stateOf(execution: Execution): string {
  return `${execution.status}|${execution.attachedAt}|${execution.attachedProbes}|${execution.endedAt}|${execution.exitCode}|${execution.exitSignal}|${execution.error}|${execution.ring.firstAvailable}|${execution.truncatedLines}|${execution.outputEvicted}|${execution.snapshots.length}|${execution.snapshots.at(-1)?.end}`;
}
