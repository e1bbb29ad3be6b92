// A saved session as a JSON file, to hand an investigation to a colleague: its programs, timeouts
// and results (status, maps, kept output lines). Files live only in <state dir>/sessions/, named
// by the session: a tool argument never names a path.
import { randomBytes } from "node:crypto";
import { closeSync, constants, fstatSync, mkdirSync, openSync, readSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { BpftraceMcpError } from "../errors.js";
import type { Execution } from "../executions/execution.js";
import type { ExecutionRecord, OutputChunk, StoredExecution } from "../executions/store.js";

export const SESSION_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const FORMAT = "bpftrace-mcp-server/session";
const MAX_FILE_BYTES = 64 * 1024 * 1024;
const MAX_ITEMS = 32;

const lineSchema = z.object({ stream: z.enum(["stdout", "stderr"]), text: z.string() });
const resultSchema = z.object({
  status: z.enum(["running", "completed", "timed_out", "stopped", "failed", "interrupted"]),
  started_at: z.number(),
  ended_at: z.number().nullable(),
  attached_at: z.number().nullable(),
  attached_probes: z.number().nullable(),
  exit_code: z.number().nullable(),
  exit_signal: z.string().nullable(),
  error: z.string().nullable(),
  lines_total: z.number().int().min(0),
  first_available: z.number().int().min(0),
  truncated_lines: z.number().int().min(0),
  maps: z.array(z.any()),
  lines: z.array(lineSchema).max(10_000_000),
});
const fileSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  name: z.string().regex(SESSION_NAME_PATTERN),
  note: z.string().nullable(),
  exported_at: z.string(),
  items: z.array(z.object({ program: z.string(), timeout_seconds: z.number(), result: resultSchema.nullable() })).min(1).max(MAX_ITEMS),
});

export type SessionFile = z.infer<typeof fileSchema>;
type ExportedResult = z.infer<typeof resultSchema>;

/** The folder of exported sessions under the state directory. */
export function sessionsDirectory(stateDir: string): string {
  return join(stateDir, "sessions");
}

/** One run as exported: its record and every line it kept. */
export function exportedResult(execution: Execution): ExportedResult {
  const { lines } = execution.ring.read(execution.ring.firstAvailable, execution.ring.linesTotal - execution.ring.firstAvailable);
  return {
    status: execution.status,
    started_at: execution.startedAt,
    ended_at: execution.endedAt,
    attached_at: execution.attachedAt,
    attached_probes: execution.attachedProbes,
    exit_code: execution.exitCode,
    exit_signal: execution.exitSignal,
    error: execution.error,
    lines_total: execution.ring.linesTotal,
    first_available: execution.ring.firstAvailable,
    truncated_lines: execution.truncatedLines,
    maps: [...execution.mapPrints],
    lines,
  };
}

/** Writes the file (0600, replacing an older export of the same name at once); returns its path. */
export function writeSessionFile(stateDir: string, file: SessionFile): string {
  const directory = sessionsDirectory(stateDir);
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const path = join(directory, `${file.name}.json`);
  const temporary = join(directory, `.${file.name}.${randomBytes(4).toString("hex")}.tmp`);
  writeFileSync(temporary, `${JSON.stringify(file, null, 1)}\n`, { mode: 0o600, flag: "wx" });
  renameSync(temporary, path);
  return path;
}

/** Reads `<state dir>/sessions/<fileName>`: a plain file (no link followed), at most 64 MiB, in the session format. */
export function readSessionFile(stateDir: string, fileName: string): SessionFile {
  const invalid = (why: string): BpftraceMcpError =>
    new BpftraceMcpError("INVALID_ARGUMENT", `The session file '${fileName}' cannot be imported: ${why}.`, {
      hint: `Put a file written by sessions action=export into ${sessionsDirectory(stateDir)} and pass its name.`,
    });
  if (!fileName.endsWith(".json") || !SESSION_NAME_PATTERN.test(fileName.slice(0, -5))) throw invalid("a file is named like my-session.json, with no folder");
  let fd: number;
  try {
    fd = openSync(join(sessionsDirectory(stateDir), fileName), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    throw invalid(`it cannot be opened (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  let text: string;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw invalid("it is not a regular file");
    if (stat.size > MAX_FILE_BYTES) throw invalid(`it is over ${MAX_FILE_BYTES} bytes`);
    const bytes = Buffer.alloc(stat.size);
    readSync(fd, bytes, 0, stat.size, 0);
    text = bytes.toString("utf8");
  } finally {
    closeSync(fd);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The parser's message quotes the text: not repeated, whatever the file holds.
    throw invalid("it is not JSON");
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) throw invalid(`it is not a session export (${parsed.error.issues[0]?.path.join(".") ?? "format"})`);
  return parsed.data;
}

/** An imported result as a stored execution of `ownerId`, under a new id. */
export function storedFromExport(result: ExportedResult, program: string, timeoutSeconds: number, ownerId: string): StoredExecution {
  const kept = result.lines;
  const linesTotal = Math.max(result.lines_total, kept.length);
  const firstAvailable = linesTotal - kept.length;
  const record: ExecutionRecord = {
    id: `ex-${randomBytes(6).toString("hex")}`,
    ownerId,
    program,
    timeoutSeconds,
    startedAt: result.started_at,
    attachedAt: result.attached_at,
    attachedProbes: result.attached_probes,
    // A run that was still going when it was exported is not running here.
    endedAt: result.ended_at ?? result.started_at,
    status: result.status === "running" ? "interrupted" : result.status,
    exitCode: result.exit_code,
    exitSignal: result.exit_signal,
    error: result.error,
    linesTotal,
    firstAvailable,
    truncatedLines: result.truncated_lines,
    outputEvicted: false,
    maps: result.maps as ExecutionRecord["maps"],
    snapshots: [],
  };
  return { record, chunks: kept.length === 0 ? [] : [chunkOfLines(firstAvailable, kept)] };
}

function chunkOfLines(firstLine: number, lines: { stream: "stdout" | "stderr"; text: string }[]): OutputChunk {
  const encoded = lines.map((line) => Buffer.from(line.text.replaceAll("\n", " "), "utf8"));
  const bytes = new Uint8Array(new ArrayBuffer(encoded.reduce((size, line) => size + line.length + 1, 0)));
  const ends = new Uint32Array(lines.length);
  const stderr = lines.some((line) => line.stream === "stderr") ? new Uint8Array(lines.length) : null;
  let at = 0;
  encoded.forEach((line, index) => {
    bytes.set(line, at);
    at += line.length;
    ends[index] = at;
    bytes[at++] = 0x0a;
    if (stderr && lines[index]?.stream === "stderr") stderr[index] = 1;
  });
  return { firstLine, bytes, ends, stderr };
}
