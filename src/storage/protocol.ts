// What the store's main-thread side asks of the thread that owns the database, and its answers.
import type { ExecutionRecord, OutputChunk, SavedSession, StoredExecution } from "../executions/store.js";
import type { StoreFault } from "./faults.js";

/** One execution's part of a batch: its record as it stands, and its output since the last batch (oldest first). */
export interface FlushEntry {
  /** Without maps when they did not change since the last batch (they are kept as they were). */
  record: Omit<ExecutionRecord, "maps"> & { maps?: ExecutionRecord["maps"] };
  chunks: OutputChunk[];
}

export type StoreRequest =
  | { op: "open" }
  | { op: "flush"; entries: FlushEntry[] }
  | { op: "list"; ownerId: string | null; offset: number; limit: number; exclude: string[]; present: string[] }
  | { op: "load"; id: string }
  | { op: "forget"; id: string }
  | { op: "put"; stored: StoredExecution }
  | { op: "saveSession"; session: SavedSession }
  | { op: "getSession"; ownerId: string; name: string }
  | { op: "listSessions"; ownerId: string | null }
  | { op: "deleteSession"; ownerId: string; name: string }
  | { op: "sweep" }
  | { op: "close" };

/** Settings the database thread is started with. */
export interface StoreSettings {
  directory: string;
  retentionMs: number;
  maxBytes: number;
  /** How long a write waits for another process's lock before it is reported busy. */
  busyTimeoutMs: number;
}

/** `notice`: a one-time event to report (a corrupt file moved aside). */
export type StoreReply = { id: number; ok: true; value: unknown; notice?: string } | { id: number; ok: false; fault: StoreFault; notice?: string };
