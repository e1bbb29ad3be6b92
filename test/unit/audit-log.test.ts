import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { AUDIT_PROGRAM_MAX_CHARS, AUDIT_REPEAT_WINDOW_MS, FileAuditLog, requireAudited, type AuditLimits, type AuditRecord } from "../../src/audit/audit-log.js";
import { BpftraceMcpError } from "../../src/errors.js";
import { createLogger } from "../../src/logger.js";

const HOUR_MS = 3_600_000;
const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

interface Clock {
  now: () => number;
  advance: (ms: number) => void;
}

function clock(start = Date.now()): Clock {
  let now = start;
  return { now: () => now, advance: (ms) => (now += ms) };
}

function auditFile(limits: Partial<AuditLimits> = {}, time: Clock = clock()): { log: FileAuditLog; path: string; time: Clock } {
  const path = join(mkdtempSync(join(tmpdir(), "audit-")), "nested", "audit.jsonl");
  const log = new FileAuditLog(path, { maxBytes: 10_000_000, maxTotalBytes: 100_000_000, retentionMs: 168 * HOUR_MS, ...limits }, createLogger("silent"), time.now);
  return { log, path, time };
}

type Line = Record<string, unknown> & { event: string; program?: string | null; program_sha256?: string | null };

function linesOf(file: string): Line[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Line);
}

/** Every record of the log and its rotated files, oldest first. */
function allRecords(path: string): Line[] {
  const rotated = readdirSync(dirname(path))
    .filter((name) => /\.\d+$/.test(name))
    .sort((left, right) => Number(right.split(".").pop()) - Number(left.split(".").pop()));
  return [...rotated.map((name) => join(dirname(path), name)), ...(existsSync(path) ? [path] : [])].flatMap(linesOf);
}

const refusal = (program: string, reason = "`cat(` reads files"): AuditRecord => ({ event: "refused", tool: "validate_program", execution_id: null, program_sha256: sha256(program), program, decision: "refused", reason });
const start = (id: string, program: string): AuditRecord => ({ event: "start", tool: "exec_program", execution_id: id, program_sha256: sha256(program), program, decision: "allowed", user: "root", privilege: "root" });

describe("FileAuditLog", () => {
  it("appends JSON lines with a timestamp in a 0600 file, the program's text once in a program record", () => {
    const { log, path } = auditFile({}, clock(Date.UTC(2026, 0, 2)));
    expect(log.write(start("ex-000000000001", "BEGIN {}"))).toBeNull();
    expect(log.write(start("ex-000000000002", "BEGIN {}"))).toBeNull();
    expect(linesOf(path)).toEqual([
      { time: "2026-01-02T00:00:00.000Z", event: "program", program_sha256: sha256("BEGIN {}"), program: "BEGIN {}" },
      expect.objectContaining({ time: "2026-01-02T00:00:00.000Z", event: "start", execution_id: "ex-000000000001", program_sha256: sha256("BEGIN {}"), program: null }),
      expect.objectContaining({ event: "start", execution_id: "ex-000000000002", program: null }),
    ]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("cuts an oversized program so one request cannot push the history out, keeping its hash", () => {
    const { log, path } = auditFile();
    const program = "x".repeat(3_000_000);
    log.write(refusal(program));
    const [programLine] = linesOf(path) as [Line & { program_truncated: boolean }];
    expect(programLine.program).toHaveLength(AUDIT_PROGRAM_MAX_CHARS);
    expect(programLine.program_truncated).toBe(true);
    expect(programLine.program_sha256).toBe(sha256(program));
  });

  it("turns identical refusals within the window into one record and one count", () => {
    const { log, path, time } = auditFile();
    const program = `BEGIN { cat("/etc/shadow"); } ${"p".repeat(65_000)}`;
    for (let call = 0; call < 317; call += 1) {
      expect(log.write(refusal(program))).toBeNull();
      time.advance(10);
    }
    expect(linesOf(path).map((line) => line.event)).toEqual(["program", "refused"]);
    log.flush();
    const lines = linesOf(path);
    expect(lines.map((line) => line.event)).toEqual(["program", "refused", "repeated"]);
    expect(lines[2]).toMatchObject({ repeated_event: "refused", tool: "validate_program", program_sha256: sha256(program), count: 316, reason: "`cat(` reads files" });
    // 317 refusals of a 64 KiB program: one copy of it on disk, not 20 MB.
    expect(statSync(path).size).toBeLessThan(70_000);
  });

  it("opens a new window after the old one ended, writing its count first", () => {
    const { log, path, time } = auditFile();
    log.write(refusal("a"));
    log.write(refusal("a"));
    time.advance(AUDIT_REPEAT_WINDOW_MS);
    log.write(refusal("a"));
    log.write(refusal("a", "another reason"));
    expect(linesOf(path).map((line) => [line.event, line.count ?? null])).toEqual([
      ["program", null],
      ["refused", null],
      ["repeated", 1],
      ["refused", null],
      ["refused", null],
    ]);
  });

  it("keeps every rotated file younger than the retention period, and each file names its programs", () => {
    const { log, path } = auditFile({ maxBytes: 4096 });
    const attack = start("ex-0000000000aa", "BEGIN { printf(\"the run under investigation\"); }");
    log.write(attack);
    for (let sequence = 0; sequence < 100; sequence += 1) log.write(refusal(`BEGIN { cat("/etc/shadow"); } // seq=${sequence} ${"p".repeat(600)}`));
    const files = readdirSync(dirname(path));
    expect(files.length).toBeGreaterThan(10);
    const records = allRecords(path);
    expect(records.filter((record) => record.event === "refused")).toHaveLength(100);
    expect(records[1]).toMatchObject({ event: "start", execution_id: "ex-0000000000aa" });
    for (const name of files) {
      const file = join(dirname(path), name);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const inFile = linesOf(file);
      const texts = new Set(inFile.filter((line) => line.event === "program").map((line) => line.program_sha256));
      for (const line of inFile) if (line.event !== "program" && line.program_sha256) expect(texts.has(line.program_sha256), `${name} holds the text of ${line.program_sha256}`).toBe(true);
    }
  });

  it("removes rotated files only once they are older than the retention period (the newest one stays)", () => {
    const { log, path, time } = auditFile({ maxBytes: 4096, retentionMs: HOUR_MS });
    for (let sequence = 0; sequence < 30; sequence += 1) log.write(refusal(`old ${sequence} ${"p".repeat(600)}`));
    const oldFiles = readdirSync(dirname(path)).filter((name) => name !== "audit.jsonl");
    expect(oldFiles.length).toBeGreaterThan(2);
    // Two hours pass: the rotated files' records are now past the retention period.
    time.advance(2 * HOUR_MS);
    for (const name of oldFiles) utimesSync(join(dirname(path), name), new Date(time.now() - 2 * HOUR_MS), new Date(time.now() - 2 * HOUR_MS));
    for (let sequence = 0; sequence < 8; sequence += 1) log.write(refusal(`new ${sequence} ${"p".repeat(600)}`));
    const programs = allRecords(path).flatMap((line) => (line.event === "program" ? [String(line.program).split(" ")[0]] : []));
    expect(programs).toContain("new");
    // The expired files went; what the log held just before a rotation is kept.
    expect(readdirSync(dirname(path)).length).toBeLessThan(oldFiles.length);
  });

  it("refuses to write past the disk cap while every record is younger than the retention period, and says why", () => {
    const { log, path } = auditFile({ maxBytes: 4096, maxTotalBytes: 16_384 });
    let problem: string | null = null;
    let written = 0;
    while (problem === null && written < 100) {
      problem = log.write(start(`ex-${String(written).padStart(12, "0")}`, `BEGIN { } // ${written} ${"p".repeat(600)}`));
      if (problem === null) written += 1;
    }
    expect(problem).toMatch(/is full: .* younger than 168 h \(BPFTRACE_MCP_AUDIT_RETENTION_HOURS\).*BPFTRACE_MCP_AUDIT_MAX_TOTAL_BYTES is 16384/);
    const total = readdirSync(dirname(path)).reduce((sum, name) => sum + statSync(join(dirname(path), name)).size, 0);
    expect(total).toBeLessThanOrEqual(16_384);
    // Nothing written was dropped to make room.
    expect(allRecords(path).filter((line) => line.event === "start")).toHaveLength(written);
  });

  it("reports a write failure as a message instead of throwing", () => {
    const blocked = new FileAuditLog("/proc/version/audit.jsonl", { maxBytes: 1000, maxTotalBytes: 10_000, retentionMs: HOUR_MS }, createLogger("silent"));
    expect(blocked.write({ event: "start", tool: "t", execution_id: "ex-1", program_sha256: null, program: null, decision: "allowed" })).toMatch(/could not be written/);
  });

  it("counts the rotated files found at start towards the cap", () => {
    const { log, path } = auditFile({ maxBytes: 4096, maxTotalBytes: 10_000 });
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(`${path}.1`, "x".repeat(9_000));
    expect(log.write(refusal("first"))).toBeNull();
    const problems = Array.from({ length: 10 }, (_, index) => log.write(start(`ex-00000000000${index}`, `BEGIN { } // ${index}`)));
    expect(problems.at(-1)).toMatch(/is full/);
    expect(statSync(path).size + statSync(`${path}.1`).size).toBeLessThanOrEqual(10_000);
  });
});

describe("requireAudited", () => {
  it("lets a written start through and refuses an unwritten one with AUDIT_UNAVAILABLE", () => {
    expect(() => requireAudited(null)).not.toThrow();
    let thrown: unknown;
    try {
      requireAudited("audit log /x could not be written: ENOSPC");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(BpftraceMcpError);
    expect(thrown).toMatchObject({ code: "AUDIT_UNAVAILABLE", message: expect.stringContaining("ENOSPC") as unknown, hint: expect.stringContaining("writable") as unknown });
  });
});
