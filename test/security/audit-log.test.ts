// The audit log as an operator reads it after the fact: one JSON line per refusal (repeats counted),
// a start and an end line per run, each program's text once per file by its hash, private to root,
// rotated without losing young records, or not written at all.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeReal } from "../helpers/real-bpftrace.js";
import { startServer, textOf, waitFor, type RunningServer } from "../helpers/server-process.js";
import { followToEnd, newMarker, stdoutOf, structuredOf } from "./support.js";

interface AuditLine {
  time: string;
  event: "refused" | "start" | "end" | "validate" | "program" | "repeated";
  count?: number;
  repeated_event?: string;
  tool: string;
  execution_id: string | null;
  program_sha256: string | null;
  program: string | null;
  decision: "allowed" | "refused";
  reason?: string;
  status?: string;
  exit_code?: number | null;
  signal?: string | null;
  signals_sent?: string[];
  duration_ms?: number;
  lines?: number;
  privilege?: string;
  user?: string;
}

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

function readAudit(path: string): AuditLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as AuditLine);
}

/** The records of the log and every rotated file, oldest first. */
function readAllAudit(path: string): AuditLine[] {
  const directory = join(path, "..");
  const rotated = readdirSync(directory)
    .filter((name) => /^audit\.jsonl\.\d+$/.test(name))
    .sort((left, right) => Number(right.split(".").pop()) - Number(left.split(".").pop()));
  return [...rotated.map((name) => readAudit(join(directory, name))).flat(), ...readAudit(path)];
}

/** The text of each program recorded in `lines`, by sha256. */
function programTexts(lines: AuditLine[]): Map<string, string> {
  return new Map(lines.filter((line) => line.event === "program").map((line) => [line.program_sha256 ?? "", line.program ?? ""]));
}

/** Every file under `directory`, recursively. */
function filesUnder(directory: string): string[] {
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describeReal("the audit log records every decision and run", () => {
  const directory = mkdtempSync(join(tmpdir(), "bpfmcp-audit-"));
  // A directory the server must create itself (0700), holding a 0600 file.
  const auditPath = join(directory, "nested", "audit.jsonl");
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ env: { BPFTRACE_MCP_AUDIT_LOG: auditPath } });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it("writes one refused line per refused request with the program's sha256, and its full text once", async () => {
    const marker = newMarker("audit-refused");
    const program = `BEGIN { cat("/etc/shadow"); } // ${marker}`;
    const before = readAudit(auditPath).length;
    expect((await server.call("exec_program", { program })).isError).toBe(true);
    expect((await server.call("validate_program", { program })).isError).toBeFalsy();
    const added = readAudit(auditPath).slice(before);
    expect(added.map((line) => [line.event, line.tool ?? null, line.decision ?? null])).toEqual([
      ["program", null, null],
      ["refused", "exec_program", "refused"],
      ["refused", "validate_program", "refused"],
    ]);
    expect(added[0]).toMatchObject({ program, program_sha256: sha256(program) });
    for (const line of added.slice(1)) {
      expect(line.program).toBeNull();
      expect(line.program_sha256).toBe(sha256(program));
      expect(line.execution_id).toBeNull();
      expect(line.reason).toContain("`cat(`");
      expect(Date.parse(line.time)).not.toBeNaN();
    }
  });

  it("writes start and end lines for a run stopped early: program, hash, status, exit code, duration, lines, signals", async () => {
    const program = `interval:ms:100 { @ticks = count(); printf("tick\\n"); } // ${newMarker("audit-run")}`;
    const started = await server.call("exec_program", { program, timeout: 30 });
    expect(started.isError, textOf(started)).toBeFalsy();
    const executionId = structuredOf(started).execution_id as string;
    // Stop only once output flows: bpftrace 0.17 can miss a SIGINT that lands just before its poll loop (see the report).
    expect(await stdoutOf(server, executionId, 5)).toContain("tick");
    await new Promise((resolve) => setTimeout(resolve, 200));
    await server.call("stop_execution", { execution_id: executionId });
    expect(await waitFor(() => readAudit(auditPath).some((line) => line.event === "end" && line.execution_id === executionId), 5_000)).toBe(true);
    const lines = readAudit(auditPath).filter((line) => line.execution_id === executionId);
    expect(lines.map((line) => line.event)).toEqual(["start", "end"]);
    const [start, end] = lines as [AuditLine, AuditLine];
    expect(start).toMatchObject({ tool: "exec_program", decision: "allowed", program: null, program_sha256: sha256(program), privilege: "root", user: "root" });
    expect(programTexts(readAudit(auditPath)).get(sha256(program))).toBe(program);
    expect(end).toMatchObject({ decision: "allowed", program_sha256: sha256(program), status: "stopped", exit_code: 0, signal: null, signals_sent: ["SIGINT"] });
    expect(end.duration_ms).toBeGreaterThanOrEqual(300);
    expect(end.lines).toBeGreaterThanOrEqual(1);
  });

  it("records a run that ended by itself with its status and no signal sent", async () => {
    const program = 'BEGIN { printf("one\\ntwo\\n"); exit(); }';
    const started = await server.call("exec_program", { program, timeout: 10 });
    const executionId = structuredOf(started).execution_id as string;
    const { status, last } = await followToEnd(server, executionId);
    expect(status).toBe("completed");
    expect(await waitFor(() => readAudit(auditPath).some((line) => line.event === "end" && line.execution_id === executionId), 5_000)).toBe(true);
    const end = readAudit(auditPath).find((line) => line.event === "end" && line.execution_id === executionId);
    expect(end).toMatchObject({ status: "completed", exit_code: 0, signals_sent: [], program_sha256: sha256(program) });
    // The same count get_result reports (bpftrace adds blank lines at exit).
    expect(end?.lines).toBe(last.lines_total);
    expect(end?.lines).toBeGreaterThanOrEqual(2);
  });

  it("keeps the log private: the file is 0600 in a 0700 directory, every line valid JSON", () => {
    expect(statSync(auditPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(directory, "nested")).mode & 0o777).toBe(0o700);
    expect(readFileSync(auditPath, "utf8").endsWith("\n")).toBe(true);
    expect(readAudit(auditPath).length).toBeGreaterThanOrEqual(6);
  });
});

describeReal("audit log rotation and BPFTRACE_MCP_AUDIT_LOG=off", () => {
  const directory = mkdtempSync(join(tmpdir(), "bpfmcp-audit-rotate-"));

  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it("rotates past BPFTRACE_MCP_AUDIT_MAX_BYTES into .1, .2, ..., keeping every young record and each file's programs", async () => {
    const auditPath = join(directory, "audit.jsonl");
    const server = await startServer({ env: { BPFTRACE_MCP_AUDIT_LOG: auditPath, BPFTRACE_MCP_AUDIT_MAX_BYTES: "4096" } });
    try {
      for (let sequence = 0; sequence < 12; sequence += 1) {
        // About 1.5 kB per request: the 4 kB limit rotates every few requests.
        const program = `BEGIN { cat("/etc/shadow"); } // seq=${sequence} ${"p".repeat(600)}`;
        expect((await server.call("exec_program", { program })).isError).toBe(true);
      }
    } finally {
      await server.close();
    }
    const files = readdirSync(directory).filter((name) => name.startsWith("audit.jsonl")).sort();
    expect(files.length).toBeGreaterThan(2);
    for (const name of files) {
      const file = join(directory, name);
      expect(statSync(file).size).toBeLessThanOrEqual(4096);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      // Each file names the text of every program it refers to.
      const lines = readAudit(file);
      const texts = programTexts(lines);
      for (const line of lines) if (line.event === "refused") expect(texts.has(line.program_sha256 ?? "")).toBe(true);
    }
    const all = readAllAudit(auditPath);
    const texts = programTexts(all);
    const sequences = all.filter((line) => line.event === "refused").map((line) => Number(/seq=(\d+)/.exec(texts.get(line.program_sha256 ?? "") ?? "")?.[1]));
    // Every request, in order: nothing younger than the retention period was dropped.
    expect(sequences).toEqual(Array.from({ length: 12 }, (_, index) => index));
  });

  it("keeps a run's start when hundreds of 64 KiB refusals follow it, counting identical ones in one record", async () => {
    const auditPath = join(directory, "flood", "audit.jsonl");
    const server = await startServer({ env: { BPFTRACE_MCP_AUDIT_LOG: auditPath, BPFTRACE_MCP_AUDIT_MAX_BYTES: String(1024 * 1024) } });
    let executionId = "";
    const padding = "p".repeat(64 * 1024 - 100);
    try {
      const started = await server.call("exec_program", { program: 'BEGIN { printf("under investigation\\n"); exit(); }', timeout: 5 });
      expect(started.isError, textOf(started)).toBeFalsy();
      executionId = structuredOf(started).execution_id as string;
      await followToEnd(server, executionId);
      // The red team's erasure: 317 refused validate_program calls of 64 KiB. Here 40 distinct ones
      // (2.5 MiB, more than the log and one rotated file held) and 200 repeats of one.
      for (let sequence = 0; sequence < 40; sequence += 1) await server.call("validate_program", { program: `BEGIN { cat("/etc/shadow"); } // ${sequence} ${padding}` });
      const repeated = `BEGIN { cat("/etc/shadow"); } // again ${padding}`;
      for (let call = 0; call < 200; call += 1) await server.call("validate_program", { program: repeated });
    } finally {
      await server.close();
    }
    const all = readAllAudit(auditPath);
    expect(all.find((line) => line.event === "start")).toMatchObject({ execution_id: executionId });
    expect(all.filter((line) => line.event === "refused")).toHaveLength(41);
    // The repeats' count is written when the window closes, at the latest at shutdown.
    expect(all.filter((line) => line.event === "repeated")).toEqual([expect.objectContaining({ repeated_event: "refused", tool: "validate_program", count: 199 })]);
    // The repeated program's text is on disk once.
    expect(all.filter((line) => line.event === "program" && line.program?.includes("again"))).toHaveLength(1);
  });

  it("off writes nothing anywhere, not even the default $XDG_STATE_HOME location", async () => {
    const home = join(directory, "home");
    const server = await startServer({ env: { BPFTRACE_MCP_AUDIT_LOG: "off", HOME: home, XDG_STATE_HOME: join(home, "state") } });
    try {
      expect((await server.call("exec_program", { program: 'BEGIN { cat("/etc/shadow"); }' })).isError).toBe(true);
      const started = await server.call("exec_program", { program: 'BEGIN { printf("x\\n"); exit(); }', timeout: 5 });
      expect(started.isError, textOf(started)).toBeFalsy();
      expect((await followToEnd(server, structuredOf(started).execution_id as string)).status).toBe("completed");
    } finally {
      await server.close();
    }
    expect(existsSync(home) ? filesUnder(home) : []).toEqual([]);
  });
});
