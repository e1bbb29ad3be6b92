import type { MapsPrint } from "../bpftrace/maps.js";
import type { Execution, ExecutionStatus } from "./execution.js";

/** Everything the store keeps of one execution but its output lines. */
export interface ExecutionRecord {
  id: string;
  /** The principal that started it (Execution.ownerId). */
  ownerId: string;
  program: string;
  timeoutSeconds: number;
  startedAt: number;
  attachedAt: number | null;
  attachedProbes: number | null;
  endedAt: number | null;
  status: ExecutionStatus;
  exitCode: number | null;
  exitSignal: string | null;
  error: string | null;
  /** Lines ever written (the absolute offset of the next line). */
  linesTotal: number;
  /** Absolute offset of the oldest line kept (what the ring had dropped before it). */
  firstAvailable: number;
  truncatedLines: number;
  outputEvicted: boolean;
  maps: MapsPrint[];
  snapshots: { begin: number; end: number | null }[];
}

/**
 * Consecutive output lines as the store keeps them: their bytes joined by newlines, where each
 * line ends, and which are stderr (null: all stdout). Offsets are the ring's absolute ones.
 */
export interface OutputChunk {
  firstLine: number;
  bytes: Uint8Array;
  /** End of line i in `bytes` (it starts one past the end of line i - 1). */
  ends: Uint32Array;
  /** 1 for a stderr line; null when every line is stdout. */
  stderr: Uint8Array | null;
}

/** A stored execution with the output it kept, oldest chunk first. */
export interface StoredExecution {
  record: ExecutionRecord;
  chunks: OutputChunk[];
}

/** A page of stored executions, newest first, and how many there are in all. */
export interface StoredPage {
  total: number;
  records: ExecutionRecord[];
  /** Which of the ids asked about (`present` in the query) are stored for this owner. */
  present?: string[];
}

/** One program of a saved session, with the run of it the session last kept. */
export interface SessionItem {
  program: string;
  timeoutSeconds: number;
  /** The latest run's execution (kept while the session exists); null when it is gone. */
  executionId: string | null;
}

/** A named set of programs and their latest results, owned by one principal. */
export interface SavedSession {
  ownerId: string;
  name: string;
  note: string | null;
  createdAt: number;
  updatedAt: number;
  /** How many times it was run again after it was saved. */
  runs: number;
  items: SessionItem[];
}

/**
 * Where executions outlive the process that ran them. The registry tells the store what starts and
 * ends; the store keeps it (in batches, off the output path) and serves it back. Every method that
 * touches storage is asynchronous and never throws for a storage fault: a fault becomes health().
 */
export interface ExecutionStore {
  /** True when what is kept survives a restart (SQLite); false for the in-memory store. */
  readonly persistent: boolean;
  /** Starts keeping `execution`: its record now, its output in batches while it runs. */
  track(execution: Execution): void;
  /** `execution` has ended: its final state is written soon, without waiting for the next batch. */
  ended(execution: Execution): void;
  /** Stored executions of `ownerId` (every owner's when null), newest first, leaving out `exclude`; says which of `present` are stored. */
  list(ownerId: string | null, page: { offset: number; limit: number; exclude: readonly string[]; present?: readonly string[] }): Promise<StoredPage>;
  /** One stored execution with its output, or null. */
  load(id: string): Promise<StoredExecution | null>;
  /** Deletes a stored execution and its output. */
  forget(id: string): Promise<void>;
  /** Keeps an execution that ran elsewhere (an imported session's result). */
  put(stored: StoredExecution): Promise<void>;
  saveSession(session: SavedSession): Promise<void>;
  getSession(ownerId: string, name: string): Promise<SavedSession | null>;
  /** Sessions of `ownerId` (everyone's when null), most recently updated first. */
  listSessions(ownerId: string | null): Promise<SavedSession[]>;
  deleteSession(ownerId: string, name: string): Promise<boolean>;
  /** Retention, runs of dead servers marked interrupted, a retry of a store that could not open; called by the sweep timer. */
  sweep(): void;
  /** What every result should say while the store cannot do its job; null while it can. */
  health(): string | null;
  /** Something that happened to the store that explains missing history (a corrupt file moved aside); null if nothing. */
  notice(): string | null;
  /** Writes what is pending and closes. */
  close(): Promise<void>;
}

/** The record of `execution` as it stands now. */
export function recordOf(execution: Execution): ExecutionRecord {
  return {
    id: execution.id,
    ownerId: execution.ownerId,
    program: execution.program,
    timeoutSeconds: execution.timeoutSeconds,
    startedAt: execution.startedAt,
    attachedAt: execution.attachedAt,
    attachedProbes: execution.attachedProbes,
    endedAt: execution.endedAt,
    status: execution.status,
    exitCode: execution.exitCode,
    exitSignal: execution.exitSignal,
    error: execution.error,
    linesTotal: execution.ring.linesTotal,
    firstAvailable: execution.ring.firstAvailable,
    truncatedLines: execution.truncatedLines,
    outputEvicted: execution.outputEvicted,
    maps: execution.maps.persisted(),
    snapshots: execution.snapshots.map((snapshot) => ({ ...snapshot })),
  };
}
