import { chmodSync, closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, renameSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "../logger.js";

/** One line of the audit log. `event` says which moment of a request it records. */
export interface AuditRecord {
  event: "refused" | "start" | "end" | "validate";
  tool: string;
  execution_id: string | null;
  program_sha256: string | null;
  program: string | null;
  decision: "allowed" | "refused";
  /** Refusal reasons, or the probe filter for listing tools. */
  reason?: string;
  filter?: string;
  status?: string;
  exit_code?: number | null;
  signal?: string | null;
  signals_sent?: string[];
  duration_ms?: number;
  lines?: number;
  lines_dropped?: number;
  user?: string;
  privilege?: string;
}

/** Where records go; the file writer in production, an array in tests. */
export interface AuditSink {
  /** Appends one record; returns an error message when it could not be written (tracing goes on). */
  write(record: AuditRecord): string | null;
}

/** Programs longer than this are recorded cut (with their full sha256), so one oversized refused request cannot rotate the history away. */
export const AUDIT_PROGRAM_MAX_CHARS = 65_536;

function boundProgram(record: AuditRecord): AuditRecord & { program_truncated?: boolean } {
  if (record.program === null || record.program.length <= AUDIT_PROGRAM_MAX_CHARS) return record;
  return { ...record, program: record.program.slice(0, AUDIT_PROGRAM_MAX_CHARS), program_truncated: true };
}

/** A sink that records nothing (audit turned off). */
export const disabledAudit: AuditSink = { write: () => null };

/**
 * Appends JSON lines to a 0600 file, rotating it to `<file>.1` past `maxBytes`. Writes are
 * synchronous and whole-line, so a crash never leaves half a record and nothing is buffered.
 */
export class FileAuditLog implements AuditSink {
  private lastError: string | null = null;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  write(record: AuditRecord): string | null {
    const line = `${JSON.stringify({ time: new Date(this.now()).toISOString(), ...boundProgram(record) })}\n`;
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      this.rotateIfNeeded(line.length);
      appendWholeLine(this.path, line);
      if (this.lastError !== null) this.logger.info({ path: this.path }, "audit log writable again");
      this.lastError = null;
      return null;
    } catch (error) {
      const message = `audit log ${this.path} could not be written: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
      if (this.lastError !== message) this.logger.error({ path: this.path, err: String(error) }, "audit log write failed; tracing continues");
      this.lastError = message;
      return message;
    }
  }

  private rotateIfNeeded(incoming: number): void {
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      return;
    }
    if (size + incoming <= this.maxBytes) return;
    renameSync(this.path, `${this.path}.1`);
    // The rotated file keeps its 0600 mode; make sure of it in case it was created by hand.
    chmodSync(`${this.path}.1`, 0o600);
  }
}

/** Appends `line` entirely or not at all: a write cut short (disk full) is truncated away, so the next record never lands on half a line. */
function appendWholeLine(path: string, line: string): void {
  const bytes = Buffer.from(line, "utf8");
  const fd = openSync(path, "a", 0o600);
  try {
    const sizeBefore = fstatSync(fd).size;
    let written = 0;
    try {
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    } catch (error) {
      if (written > 0) ftruncateSync(fd, sizeBefore);
      throw error;
    }
  } finally {
    closeSync(fd);
  }
}
