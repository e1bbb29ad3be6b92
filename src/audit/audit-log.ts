import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { BpftraceMcpError } from "../errors.js";
import type { Logger } from "../logger.js";
import { RepeatSummary, type RepeatCount } from "./repeats.js";
import { removeExpired, rotate, rotatedFiles } from "./rotation.js";

/** One line of the audit log. `event` says which moment of a request it records. */
export interface AuditRecord {
  event: "refused" | "start" | "end" | "validate";
  tool: string;
  execution_id: string | null;
  program_sha256: string | null;
  /** The program's text: written once per file, in a `program` record, and referenced by its sha256. */
  program: string | null;
  decision: "allowed" | "refused";
  /** Who asked (Principal.id): "local" on stdio, a token name or an OAuth subject over HTTP. */
  principal?: string;
  /** The peer's address over HTTP; null on stdio. */
  remote?: string | null;
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
  /** Why a run recorded as started never ran (e.g. bpftrace could not be spawned). */
  error?: string;
}

/** Where records go; the file writer in production, an array in tests. */
export interface AuditSink {
  /**
   * Appends one record; returns null once it is written (or, for a repeat of a refusal, counted for
   * its summary), else what went wrong. A `start` that cannot be written must not run: see requireAudited.
   */
  write(record: AuditRecord): string | null;
  /** Writes what is held back (the counts of repeated refusals); called at shutdown. */
  flush?(): void;
}

/** Programs longer than this are recorded cut (with their full sha256), so one oversized refused request cannot rotate the history away. */
export const AUDIT_PROGRAM_MAX_CHARS = 65_536;
/** Identical refusals (and validations) within this window are one record and, after it, one count. */
export const AUDIT_REPEAT_WINDOW_MS = 60_000;
/** Program hashes remembered as written in the current file; past this the oldest is written again when next used. */
const PROGRAMS_REMEMBERED = 4_096;

/** A sink that records nothing (audit turned off). */
export const disabledAudit: AuditSink = { write: () => null };

/**
 * Throws AUDIT_UNAVAILABLE when `problem` (what AuditSink.write returned for a run's start) says
 * the record was not written: the server runs nothing it cannot account for.
 */
export function requireAudited(problem: string | null): void {
  if (problem === null) return;
  throw new BpftraceMcpError("AUDIT_UNAVAILABLE", `The audit log could not record the start of this run, so it was not started: ${problem}.`, {
    hint: "The operator must make the audit log writable (disk space, permissions, BPFTRACE_MCP_AUDIT_LOG, BPFTRACE_MCP_AUDIT_MAX_TOTAL_BYTES); then retry.",
  });
}

/** How much audit history is kept on disk. */
export interface AuditLimits {
  /** Size past which the log is rotated to `<log>.1`. */
  maxBytes: number;
  /** Bytes of the log and all its rotated files together; past it nothing more is written. */
  maxTotalBytes: number;
  /** Rotated files are removed only once all their records are older than this. */
  retentionMs: number;
}

/**
 * Appends JSON lines to a 0600 file, rotating it to `<file>.1`, `.2`, … past `maxBytes`, and
 * removing a rotated file only once its records are older than the retention period. Writes are
 * synchronous and whole-line, so a crash never leaves half a record and nothing is buffered, except
 * the counts of repeated refusals (one record per window). Each file is readable on its own: a
 * program's text is written once per file, before the first record that references its hash.
 */
export class FileAuditLog implements AuditSink {
  private lastError: string | null = null;
  /** Program hashes whose text the current file holds, oldest first. */
  private readonly programsInFile = new Set<string>();
  /** Bytes of the rotated files; null until first needed. */
  private rotatedBytes: number | null = null;
  private readonly repeats: RepeatSummary;

  constructor(
    readonly path: string,
    private readonly limits: AuditLimits,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.repeats = new RepeatSummary(AUDIT_REPEAT_WINDOW_MS, now, (summary) => this.writeRepeats(summary));
  }

  write(record: AuditRecord): string | null {
    if ((record.event === "refused" || record.event === "validate") && this.repeats.seenRecently(record)) return null;
    return this.append(record);
  }

  flush(): void {
    this.repeats.flush();
  }

  private append(record: AuditRecord | RepeatCount): string | null {
    const time = new Date(this.now()).toISOString();
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      const { program = null, ...rest } = record as AuditRecord;
      const sha = record.program_sha256;
      const recordLine = `${JSON.stringify({ time, ...rest, program: program !== null && sha !== null ? null : boundProgram(program) })}\n`;
      const programLine = (): string => (program !== null && sha !== null && !this.programsInFile.has(sha) ? programRecord(time, sha, program) : "");
      let text = programLine() + recordLine;
      if (this.rotateIfNeeded(Buffer.byteLength(text))) text = programLine() + recordLine;
      this.ensureRoom(Buffer.byteLength(text));
      appendWholeLines(this.path, text);
      if (program !== null && sha !== null) this.rememberProgram(sha);
      if (this.lastError !== null) this.logger.info({ path: this.path }, "audit log writable again");
      this.lastError = null;
      return null;
    } catch (error) {
      const message = error instanceof AuditFullError ? error.message : `audit log ${this.path} could not be written: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
      if (this.lastError !== message) this.logger.error({ path: this.path, err: String(error) }, "audit log write failed: no new execution can start until it is writable");
      this.lastError = message;
      return message;
    }
  }

  private writeRepeats(summary: RepeatCount): void {
    const problem = this.append(summary);
    if (problem) this.logger.error({ path: this.path, err: problem, repeats: summary.count }, "audit log could not record repeated refusals");
  }

  private rememberProgram(sha: string): void {
    this.programsInFile.delete(sha);
    this.programsInFile.add(sha);
    if (this.programsInFile.size > PROGRAMS_REMEMBERED) this.programsInFile.delete(this.programsInFile.values().next().value ?? "");
  }

  /** Rotates when `incoming` bytes would take the log past maxBytes; true when it did. */
  private rotateIfNeeded(incoming: number): boolean {
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      return false;
    }
    if (size + incoming <= this.limits.maxBytes || size === 0) return false;
    rotate(this.path);
    // The new file starts without any program's text.
    this.programsInFile.clear();
    this.rotatedBytes = sum(removeExpired(this.path, this.now(), this.limits.retentionMs, false));
    return true;
  }

  /** Throws AuditFullError when `incoming` bytes would take the log and its rotated files past maxTotalBytes. */
  private ensureRoom(incoming: number): void {
    const current = fileSize(this.path);
    this.rotatedBytes ??= sum(rotatedFiles(this.path));
    if (current + this.rotatedBytes + incoming <= this.limits.maxTotalBytes) return;
    // Rotated files may have aged past the retention period since: remove them, the newest too.
    this.rotatedBytes = sum(removeExpired(this.path, this.now(), this.limits.retentionMs, true));
    if (current + this.rotatedBytes + incoming <= this.limits.maxTotalBytes) return;
    const hours = Math.round(this.limits.retentionMs / 3_600_000);
    throw new AuditFullError(
      `audit log ${this.path} is full: it and its rotated files hold ${current + this.rotatedBytes} bytes of records younger than ${hours} h ` +
        `(BPFTRACE_MCP_AUDIT_RETENTION_HOURS), and BPFTRACE_MCP_AUDIT_MAX_TOTAL_BYTES is ${this.limits.maxTotalBytes}; ` +
        "archive the rotated files elsewhere or raise the limit",
    );
  }
}

class AuditFullError extends Error {}

function programRecord(time: string, sha: string, program: string): string {
  const cut = program.length > AUDIT_PROGRAM_MAX_CHARS;
  return `${JSON.stringify({ time, event: "program", program_sha256: sha, program: cut ? program.slice(0, AUDIT_PROGRAM_MAX_CHARS) : program, ...(cut ? { program_truncated: true } : {}) })}\n`;
}

/** A program without a hash to reference stays in its record, cut like a program record. */
function boundProgram(program: string | null): string | null {
  return program === null || program.length <= AUDIT_PROGRAM_MAX_CHARS ? program : program.slice(0, AUDIT_PROGRAM_MAX_CHARS);
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function sum(files: readonly { bytes: number }[]): number {
  return files.reduce((total, file) => total + file.bytes, 0);
}

/** Appends `text` entirely or not at all: a write cut short (disk full) is truncated away, so the next record never lands on half a line. */
function appendWholeLines(path: string, text: string): void {
  const bytes = Buffer.from(text, "utf8");
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
