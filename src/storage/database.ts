// The SQLite side of the execution store: the only place with SQL. It runs on the store's own
// thread (sqlite-worker.ts), so a slow disk, a checkpoint's fsync or another process's lock never
// holds up the server's event loop.
import Database from "better-sqlite3";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ExecutionRecord, OutputChunk, SavedSession, StoredExecution, StoredPage } from "../executions/store.js";
import { classify, StoreFaultError } from "./faults.js";
import type { FlushEntry, StoreRequest, StoreSettings } from "./protocol.js";
import { DATABASE_FILE, SCHEMA, SCHEMA_VERSION } from "./schema.js";
import { isServerAlive, serverKey } from "./server-key.js";

// The WAL is cut back to this after a checkpoint, so one flood does not leave a large file behind.
const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;
// A row holds at most this many bytes of output: SQLite copies each bound blob, and on this thread
// glibc keeps what it once allocated, so megabyte blobs would leave megabytes of memory behind.
const ROW_BYTES = 256 * 1024;
// Retention deletes down to this share of the cap, so it does not run again at the next batch.
const SIZE_HYSTERESIS = 0.9;

interface ExecutionRow {
  id: string;
  owner_id: string;
  program: string;
  timeout_seconds: number;
  started_at: number;
  attached_at: number | null;
  attached_probes: number | null;
  ended_at: number | null;
  status: ExecutionRecord["status"];
  exit_code: number | null;
  exit_signal: string | null;
  error: string | null;
  lines_total: number;
  first_available: number;
  truncated_lines: number;
  output_evicted: number;
  maps: string;
  snapshots: string;
}

interface ChunkRow {
  first_line: number;
  bytes: Buffer;
  ends: Buffer;
  stderr: Buffer | null;
}

interface SessionRow {
  owner_id: string;
  name: string;
  note: string | null;
  created_at: number;
  updated_at: number;
  runs: number;
  items: string;
}

/** Opens, queries and repairs the store's database file; every method is synchronous. */
export class StoreDatabase {
  private db: Database.Database | null = null;
  /** Statements prepared once per connection: a statement left to the garbage collector holds native memory until it runs. */
  private statements = new Map<string, Database.Statement>();
  private readonly path: string;
  private readonly server = serverKey();
  /** The file's inode when opened: a corrupt file is moved aside only if it is still the one at the path. */
  private inode = 0;
  /** Set once when a corrupt file was moved aside; handed to the caller with the next answer. */
  private pendingNotice: string | null = null;

  constructor(
    private readonly settings: StoreSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.path = join(settings.directory, DATABASE_FILE);
  }

  /** Where the database file is. */
  get file(): string {
    return this.path;
  }

  /** Takes the one-time notice, if any. */
  takeNotice(): string | null {
    const notice = this.pendingNotice;
    this.pendingNotice = null;
    return notice;
  }

  /** Runs one request; a corrupt file is moved aside and the request tried once more on a fresh one. */
  handle(request: StoreRequest): unknown {
    try {
      return this.dispatch(request);
    } catch (error) {
      const fault = error instanceof StoreFaultError ? error.fault : classify(error);
      if (fault.kind !== "corrupt" || request.op === "close") throw new StoreFaultError(fault);
      this.recover(fault.message);
      try {
        return this.dispatch(request);
      } catch (retryError) {
        throw new StoreFaultError(retryError instanceof StoreFaultError ? retryError.fault : classify(retryError));
      }
    }
  }

  private dispatch(request: StoreRequest): unknown {
    if (request.op === "close") {
      this.close();
      return null;
    }
    const db = this.open();
    switch (request.op) {
      case "open":
        return { file: this.path };
      case "flush":
        this.flush(db, request.entries);
        return null;
      case "list":
        return this.list(db, request.ownerId, request.offset, request.limit, request.exclude, request.present);
      case "load":
        return this.load(db, request.id);
      case "forget":
        db.transaction(() => this.remove(db, [request.id]))();
        return null;
      case "put":
        this.put(db, request.stored);
        return null;
      case "saveSession":
        this.saveSession(db, request.session);
        return null;
      case "getSession":
        return this.getSession(db, request.ownerId, request.name);
      case "listSessions":
        return this.listSessions(db, request.ownerId);
      case "deleteSession":
        return this.prepare(db, "DELETE FROM sessions WHERE owner_id = ? AND name = ?").run(request.ownerId, request.name).changes > 0;
      case "sweep":
        return this.sweep(db);
    }
  }

  /** The open connection, opening (and creating) the file on first use. */
  private open(): Database.Database {
    if (this.db) return this.db;
    const { directory } = this.settings;
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const directoryStat = statSync(directory);
    // Made by someone else (or before modes were set): tightened if it is ours.
    if ((directoryStat.mode & 0o077) !== 0 && directoryStat.uid === process.getuid?.()) chmodSync(directory, 0o700);
    // Created 0600 before SQLite sees it: its -wal and -shm files take the database file's mode.
    closeSync(openSync(this.path, "a", 0o600));
    const fileStat = statSync(this.path);
    if ((fileStat.mode & 0o077) !== 0 && fileStat.uid === process.getuid?.()) chmodSync(this.path, 0o600);
    this.checkLength(fileStat.size);
    const db = new Database(this.path, { timeout: this.settings.busyTimeoutMs });
    try {
      // Output is blobs of up to megabytes: 64 KiB pages write them four times faster than 4 KiB ones (a
      // flood's second of 300k lines: ~20 ms instead of ~80 on the store's thread). No auto_vacuum: its
      // pointer maps cost as much again; pages freed by retention are reused, and retention counts used pages.
      db.pragma("page_size = 65536");
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      // 256 KiB of page cache: output blobs are written once and read once, caching them saves nothing.
      db.pragma("cache_size = -256");
      db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
      db.transaction(() => {
        db.exec(SCHEMA);
        const version = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get() as string | undefined;
        if (version === undefined) db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
        else if (Number(version) !== SCHEMA_VERSION) throw Object.assign(new Error(`schema version ${version}, this server reads ${SCHEMA_VERSION}`), { code: "SQLITE_NOTADB" });
      }).immediate();
      // Reads every page of the executions table: a file cut short fails here, not in the middle of a trace.
      db.prepare("SELECT count(*) FROM executions WHERE length(program) >= 0").pluck().get();
    } catch (error) {
      db.close();
      throw error;
    }
    this.inode = statSync(this.path).ino;
    this.db = db;
    return db;
  }

  /** A file shorter than its header says, with no WAL to hold the rest, was cut short: corrupt. */
  private checkLength(size: number): void {
    if (size < 100) return;
    const wal = `${this.path}-wal`;
    if (existsSync(wal) && statSync(wal).size > 0) return;
    const header = Buffer.alloc(100);
    const fd = openSync(this.path, "r");
    try {
      // A short read leaves zeros, which fail the magic check.
      readSync(fd, header, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }
    if (header.toString("latin1", 0, 16) !== "SQLite format 3\0") throw Object.assign(new Error("file is not a database"), { code: "SQLITE_NOTADB" });
    const pageSize = header.readUInt16BE(16) === 1 ? 65_536 : header.readUInt16BE(16);
    const pages = header.readUInt32BE(28);
    if (pages > 0 && size < pages * pageSize) throw Object.assign(new Error(`database file is ${size} bytes, its header says ${pages * pageSize}: it was cut short`), { code: "SQLITE_CORRUPT" });
  }

  /** Moves a corrupt file (and its WAL) aside with a timestamp and starts a fresh one. */
  private recover(reason: string): void {
    const openInode = this.inode;
    this.close();
    let currentInode = 0;
    try {
      currentInode = statSync(this.path).ino;
    } catch {
      currentInode = 0;
    }
    // Another server already replaced it: just open the new one.
    if (openInode !== 0 && currentInode !== 0 && currentInode !== openInode) return;
    const aside = `${this.path}.corrupt-${new Date(this.now()).toISOString().replace(/[:.]/g, "-")}`;
    if (existsSync(this.path)) renameSync(this.path, aside);
    if (existsSync(`${this.path}-wal`)) renameSync(`${this.path}-wal`, `${aside}-wal`);
    rmSync(`${this.path}-shm`, { force: true });
    this.pendingNotice = `the execution store ${this.path} was corrupt (${reason}); it was moved to ${aside} and a fresh one was started: executions stored before are not listed`;
  }

  private prepare(db: Database.Database, sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  close(): void {
    this.statements = new Map();
    if (!this.db) return;
    try {
      this.db.close();
    } catch {
      // Closing a connection whose file is gone or broken: nothing more to save.
    }
    this.db = null;
  }

  private flush(db: Database.Database, entries: FlushEntry[]): void {
    const upsert = this.prepare(db, `INSERT INTO executions (id, owner_id, program, timeout_seconds, started_at, attached_at, attached_probes, ended_at, status, exit_code, exit_signal, error,
        lines_total, first_available, truncated_lines, output_evicted, maps, snapshots, server, updated_at)
      VALUES (@id, @owner_id, @program, @timeout_seconds, @started_at, @attached_at, @attached_probes, @ended_at, @status, @exit_code, @exit_signal, @error,
        @lines_total, @first_available, @truncated_lines, @output_evicted, coalesce(@maps, '[]'), @snapshots, @server, @updated_at)
      ON CONFLICT (id) DO UPDATE SET attached_at = excluded.attached_at, attached_probes = excluded.attached_probes, ended_at = excluded.ended_at,
        status = excluded.status, exit_code = excluded.exit_code, exit_signal = excluded.exit_signal, error = excluded.error, lines_total = excluded.lines_total,
        first_available = excluded.first_available, truncated_lines = excluded.truncated_lines, output_evicted = excluded.output_evicted,
        maps = coalesce(@maps, executions.maps), snapshots = excluded.snapshots, server = excluded.server, updated_at = excluded.updated_at`);
    const insertChunk = this.prepare(db, "INSERT OR REPLACE INTO output (execution_id, first_line, line_count, bytes, ends, stderr) VALUES (?, ?, ?, ?, ?, ?)");
    // Chunks wholly below the oldest kept line were dropped from the ring too.
    const trim = this.prepare(db, "DELETE FROM output WHERE execution_id = ? AND first_line + line_count <= ?");
    const size = this.prepare(db, `UPDATE executions SET stored_bytes = length(program) + length(maps)
      + (SELECT coalesce(sum(length(bytes) + length(ends) + coalesce(length(stderr), 0)), 0) FROM output WHERE execution_id = ?) WHERE id = ?`);
    const now = this.now();
    db.transaction(() => {
      for (const { record, chunks } of entries) {
        upsert.run({ ...rowOf(record), server: record.status === "running" ? this.server : null, updated_at: now });
        for (const chunk of chunks) {
          for (const piece of rowsOf(chunk)) insertChunk.run(record.id, piece.firstLine, piece.ends.length, bufferOf(piece.bytes), bufferOf(piece.ends), piece.stderr ? bufferOf(piece.stderr) : null);
        }
        trim.run(record.id, record.firstAvailable);
        size.run(record.id, record.id);
      }
    })();
  }

  private list(db: Database.Database, ownerId: string | null, offset: number, limit: number, exclude: string[], present: string[]): StoredPage {
    const owner = ownerId === null ? "1" : "owner_id = @owner";
    const where = exclude.length === 0 ? owner : `${owner} AND id NOT IN (SELECT value FROM json_each(@exclude))`;
    const parameters = { owner: ownerId, exclude: JSON.stringify(exclude), limit, offset };
    this.markInterrupted(db);
    const found =
      present.length === 0 ? [] : (this.prepare(db, `SELECT id FROM executions WHERE ${owner} AND id IN (SELECT value FROM json_each(@present))`).pluck().all({ owner: ownerId, present: JSON.stringify(present) }) as string[]);
    const total = this.prepare(db, `SELECT count(*) FROM executions WHERE ${where}`).pluck().get(parameters) as number;
    // The list needs no maps, and only the start of each program.
    const rows = db
      .prepare(`SELECT id, owner_id, substr(program, 1, 400) AS program, timeout_seconds, started_at, attached_at, attached_probes, ended_at, status, exit_code, exit_signal, error,
          lines_total, first_available, truncated_lines, output_evicted, '[]' AS maps, snapshots FROM executions WHERE ${where} ORDER BY started_at DESC LIMIT @limit OFFSET @offset`)
      .all(parameters) as ExecutionRow[];
    return { total, records: rows.map(recordOfRow), present: found };
  }

  private load(db: Database.Database, id: string): StoredExecution | null {
    const select = this.prepare(db, "SELECT * FROM executions WHERE id = ?");
    let row = select.get(id) as ExecutionRow | undefined;
    if (!row) return null;
    // Its server may have died since: then it is served as interrupted.
    if (row.status === "running" && this.markInterrupted(db) > 0) row = (select.get(id) as ExecutionRow | undefined) ?? row;
    return this.loadRow(db, row);
  }

  private loadRow(db: Database.Database, row: ExecutionRow): StoredExecution {
    const chunks = db
      .prepare("SELECT first_line, bytes, ends, stderr FROM output WHERE execution_id = ? AND first_line + line_count > ? ORDER BY first_line")
      .all(row.id, row.first_available) as ChunkRow[];
    return { record: recordOfRow(row), chunks: chunks.map(chunkOfRow) };
  }

  private put(db: Database.Database, stored: StoredExecution): void {
    db.transaction(() => {
      this.remove(db, [stored.record.id]);
      this.flush(db, [{ record: stored.record, chunks: [] }]);
      const insertChunk = this.prepare(db, "INSERT OR REPLACE INTO output (execution_id, first_line, line_count, bytes, ends, stderr) VALUES (?, ?, ?, ?, ?, ?)");
      for (const chunk of stored.chunks) insertChunk.run(stored.record.id, chunk.firstLine, chunk.ends.length, bufferOf(chunk.bytes), bufferOf(chunk.ends), chunk.stderr ? bufferOf(chunk.stderr) : null);
      this.flush(db, [{ record: stored.record, chunks: [] }]);
    })();
  }

  private remove(db: Database.Database, ids: readonly string[]): void {
    const json = JSON.stringify(ids);
    this.prepare(db, "DELETE FROM output WHERE execution_id IN (SELECT value FROM json_each(?))").run(json);
    this.prepare(db, "DELETE FROM executions WHERE id IN (SELECT value FROM json_each(?))").run(json);
  }

  private saveSession(db: Database.Database, session: SavedSession): void {
    this.prepare(db, `INSERT INTO sessions (owner_id, name, note, created_at, updated_at, runs, items) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (owner_id, name) DO UPDATE SET note = excluded.note, updated_at = excluded.updated_at, runs = excluded.runs, items = excluded.items`)
      .run(session.ownerId, session.name, session.note, session.createdAt, session.updatedAt, session.runs, JSON.stringify(session.items));
  }

  private getSession(db: Database.Database, ownerId: string, name: string): SavedSession | null {
    const row = this.prepare(db, "SELECT * FROM sessions WHERE owner_id = ? AND name = ?").get(ownerId, name) as SessionRow | undefined;
    return row ? sessionOfRow(row) : null;
  }

  private listSessions(db: Database.Database, ownerId: string | null): SavedSession[] {
    const rows = (ownerId === null ? this.prepare(db, "SELECT * FROM sessions ORDER BY updated_at DESC").all() : this.prepare(db, "SELECT * FROM sessions WHERE owner_id = ? ORDER BY updated_at DESC").all(ownerId)) as SessionRow[];
    return rows.map(sessionOfRow);
  }

  /** Runs whose server process is gone (killed, or the machine restarted) become `interrupted` with what they kept. */
  private markInterrupted(db: Database.Database): number {
    const servers = this.prepare(db, "SELECT DISTINCT server FROM executions WHERE status = 'running'").pluck().all() as (string | null)[];
    const dead = servers.filter((server) => server === null || (server !== this.server && !isServerAlive(server)));
    if (dead.length === 0) return 0;
    const mark = this.prepare(db, "UPDATE executions SET status = 'interrupted', ended_at = updated_at, server = NULL WHERE status = 'running' AND server IS ?");
    return db.transaction(() => dead.reduce((count, server) => count + mark.run(server).changes, 0))();
  }

  /** Interrupted runs marked, then retention by age and by size; executions in a saved session are kept. */
  private sweep(db: Database.Database): { interrupted: number; deleted: number } {
    const interrupted = this.markInterrupted(db);
    const pinned = new Set<string>();
    for (const items of this.prepare(db, "SELECT items FROM sessions").pluck().all() as string[]) {
      for (const item of JSON.parse(items) as { executionId: string | null }[]) if (item.executionId) pinned.add(item.executionId);
    }
    const cutoff = this.now() - this.settings.retentionMs;
    const expired = (this.prepare(db, "SELECT id FROM executions WHERE status != 'running' AND coalesce(ended_at, started_at) < ?").pluck().all(cutoff) as string[]).filter((id) => !pinned.has(id));
    const doomed = new Set(expired);
    const pageSize = db.pragma("page_size", { simple: true }) as number;
    const used = ((db.pragma("page_count", { simple: true }) as number) - (db.pragma("freelist_count", { simple: true }) as number)) * pageSize;
    if (used > this.settings.maxBytes) {
      let toFree = used - this.settings.maxBytes * SIZE_HYSTERESIS;
      const oldest = this.prepare(db, "SELECT id, stored_bytes FROM executions WHERE status != 'running' ORDER BY coalesce(ended_at, started_at)").iterate() as IterableIterator<{ id: string; stored_bytes: number }>;
      for (const { id, stored_bytes: bytes } of oldest) {
        if (toFree <= 0) break;
        if (pinned.has(id) || doomed.has(id)) continue;
        doomed.add(id);
        toFree -= bytes;
      }
    }
    if (doomed.size > 0) db.transaction(() => this.remove(db, [...doomed]))();
    return { interrupted, deleted: doomed.size };
  }
}

function rowOf(record: FlushEntry["record"]): Record<string, unknown> {
  return {
    id: record.id,
    owner_id: record.ownerId,
    program: record.program,
    timeout_seconds: record.timeoutSeconds,
    started_at: record.startedAt,
    attached_at: record.attachedAt,
    attached_probes: record.attachedProbes,
    ended_at: record.endedAt,
    status: record.status,
    exit_code: record.exitCode,
    exit_signal: record.exitSignal,
    error: record.error,
    lines_total: record.linesTotal,
    first_available: record.firstAvailable,
    truncated_lines: record.truncatedLines,
    output_evicted: record.outputEvicted ? 1 : 0,
    maps: record.maps === undefined ? null : JSON.stringify(record.maps),
    snapshots: JSON.stringify(record.snapshots),
  };
}

function recordOfRow(row: ExecutionRow): ExecutionRecord {
  return {
    id: row.id,
    ownerId: row.owner_id,
    program: row.program,
    timeoutSeconds: row.timeout_seconds,
    startedAt: row.started_at,
    attachedAt: row.attached_at,
    attachedProbes: row.attached_probes,
    endedAt: row.ended_at,
    status: row.status,
    exitCode: row.exit_code,
    exitSignal: row.exit_signal,
    error: row.error,
    linesTotal: row.lines_total,
    firstAvailable: row.first_available,
    truncatedLines: row.truncated_lines,
    outputEvicted: row.output_evicted === 1,
    maps: JSON.parse(row.maps) as ExecutionRecord["maps"],
    snapshots: JSON.parse(row.snapshots) as ExecutionRecord["snapshots"],
  };
}

/** A chunk cut at line boundaries into rows of at most ROW_BYTES (a longer line is a row of its own). */
function rowsOf(chunk: OutputChunk): OutputChunk[] {
  if (chunk.bytes.length <= ROW_BYTES) return [chunk];
  const rows: OutputChunk[] = [];
  let firstIndex = 0;
  let firstByte = 0;
  const count = chunk.ends.length;
  for (let index = 0; index < count; index += 1) {
    const rowEnd = chunk.ends[index]! + 1;
    const last = index === count - 1;
    if (!last && chunk.ends[index + 1]! + 1 - firstByte <= ROW_BYTES) continue;
    const ends = new Uint32Array(index + 1 - firstIndex);
    for (let line = firstIndex; line <= index; line += 1) ends[line - firstIndex] = chunk.ends[line]! - firstByte;
    rows.push({ firstLine: chunk.firstLine + firstIndex, bytes: chunk.bytes.subarray(firstByte, rowEnd), ends, stderr: chunk.stderr ? chunk.stderr.subarray(firstIndex, index + 1) : null });
    firstIndex = index + 1;
    firstByte = rowEnd;
  }
  return rows;
}

function chunkOfRow(row: ChunkRow): OutputChunk {
  // Copied out of better-sqlite3's buffers into ones of their own, which can be handed to another thread.
  const ends = new Uint32Array(row.ends.length / 4);
  new Uint8Array(ends.buffer).set(row.ends);
  return { firstLine: row.first_line, bytes: ownCopy(row.bytes), ends, stderr: row.stderr ? ownCopy(row.stderr) : null };
}

function ownCopy(buffer: Buffer): Uint8Array {
  const copy = new Uint8Array(new ArrayBuffer(buffer.length));
  copy.set(buffer);
  return copy;
}

function bufferOf(view: Uint8Array | Uint32Array): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

function sessionOfRow(row: SessionRow): SavedSession {
  return { ownerId: row.owner_id, name: row.name, note: row.note, createdAt: row.created_at, updatedAt: row.updated_at, runs: row.runs, items: JSON.parse(row.items) as SavedSession["items"] };
}
