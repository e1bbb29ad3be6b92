import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { startServer, textOf, type RunningServer } from "../helpers/server-process.js";

interface TraceOutcome {
  executionId: string;
  /** warnings of exec_program (the `start` record). */
  startWarnings: string[];
  /** warnings of get_result once it ended (the `end` record). */
  endWarnings: string[];
  status: string;
  lines: string[];
}

const PROGRAM = "BEGIN { } // fake: lines=2 // fake: exit-after-attach=0";
const AUDIT_FAILED = "audit log write failed; tracing continues";
const AUDIT_BACK = "audit log writable again";

// Mounting needs root, which ignores directory permissions: so the faults are a full or read-only
// tmpfs, and a path under a regular file, not a chmod-ed directory.
const asRoot = process.geteuid?.() === 0;
const describeAsRoot = asRoot ? describe : process.env.CI ? describe : describe.skip;

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}`);
}

/** Runs one short trace and follows it to its end, collecting the warnings of both results. */
async function traceOnce(server: RunningServer): Promise<TraceOutcome> {
  const started = await server.call("exec_program", { program: PROGRAM, timeout: 5 });
  expect(started.isError, textOf(started)).toBeFalsy();
  const { execution_id: executionId, warnings: startWarnings } = started.structuredContent as { execution_id: string; warnings: string[] };
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const result = await server.call("get_result", { execution_id: executionId, wait_seconds: 1, offset: 2 });
    const page = result.structuredContent as { status: string; warnings: string[] };
    if (page.status !== "running") {
      const all = (await server.call("get_result", { execution_id: executionId })).structuredContent as { lines: { text: string }[] };
      return { executionId, startWarnings, endWarnings: page.warnings, status: page.status, lines: all.lines.map((line) => line.text) };
    }
  }
  throw new Error(`${executionId} did not end`);
}

/** The server's log entries (stderr JSON) with this message. */
function logEntries(server: RunningServer, message: string): { path?: string; err?: string }[] {
  return server
    .stderr()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { msg: string; path?: string; err?: string })
    .filter((entry) => entry.msg === message);
}

function auditRecords(path: string): { event: string; execution_id: string | null }[] {
  const text = readFileSync(path, "utf8");
  expect(text.endsWith("\n"), "the audit log ends with a whole line").toBe(true);
  // Every line must be a whole record: a half-written one would glue itself to the next.
  return text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as { event: string; execution_id: string | null });
}

describeAsRoot(`the audit log cannot be written (fake bpftrace${asRoot ? "" : "; skipped: mounting tmpfs needs root"})`, () => {
  let fake = "";
  let server: RunningServer | undefined;
  const scratch = mkdtempSync(join(tmpdir(), "audit-faults-"));
  const mounts: string[] = [];

  function mountTmpfs(options: string): string {
    const directory = mkdtempSync(join(scratch, "mnt-"));
    run("mount", ["-t", "tmpfs", "-o", options, "tmpfs", directory]);
    mounts.push(directory);
    return directory;
  }

  beforeAll(() => {
    if (!asRoot) throw new Error("audit fault tests need root (to mount tmpfs) and are required in CI");
    fake = installFakeBpftrace();
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  afterAll(() => {
    for (const directory of mounts.reverse()) {
      if (spawnSync("umount", [directory]).status !== 0) spawnSync("umount", ["-l", directory]);
    }
    rmSync(scratch, { recursive: true, force: true });
    if (fake) rmSync(dirname(fake), { recursive: true, force: true });
  });

  it("goes on tracing when the log's parent is a regular file, warning in both results and logging once", async () => {
    const parentFile = join(scratch, "not-a-directory");
    writeFileSync(parentFile, "");
    const auditPath = join(parentFile, "audit.jsonl");
    server = await startServer({ env: { BPFTRACE_PATH: fake, BPFTRACE_MCP_AUDIT_LOG: auditPath } });
    const expected = `audit log ${auditPath} could not be written: EEXIST`;
    for (let run = 0; run < 2; run += 1) {
      const outcome = await traceOnce(server);
      expect(outcome).toMatchObject({ status: "completed", lines: ["line 0", "line 1"], startWarnings: [expected], endWarnings: [expected] });
    }
    // Logged when it starts failing, not on every record.
    expect(logEntries(server, AUDIT_FAILED)).toEqual([expect.objectContaining({ path: auditPath, err: expect.stringMatching(/EEXIST/) as unknown })]);
    const started = await server.call("exec_program", { program: PROGRAM, timeout: 5 });
    expect(textOf(started)).toContain(`Warning: ${expected}`);
  });

  it("warns while the log's filesystem is read-only and writes again, saying so, once it is writable", async () => {
    const directory = mountTmpfs("size=8k,ro");
    const auditPath = join(directory, "audit.jsonl");
    server = await startServer({ env: { BPFTRACE_PATH: fake, BPFTRACE_MCP_AUDIT_LOG: auditPath } });
    const readOnly = await traceOnce(server);
    const expected = `audit log ${auditPath} could not be written: EROFS`;
    expect(readOnly).toMatchObject({ status: "completed", lines: ["line 0", "line 1"], startWarnings: [expected], endWarnings: [expected] });
    expect(logEntries(server, AUDIT_FAILED)).toHaveLength(1);
    run("mount", ["-o", "remount,rw", directory]);
    const writable = await traceOnce(server);
    expect(writable).toMatchObject({ status: "completed", startWarnings: [], endWarnings: [] });
    expect(logEntries(server, AUDIT_BACK)).toEqual([expect.objectContaining({ path: auditPath })]);
    expect(auditRecords(auditPath).map((record) => [record.event, record.execution_id])).toEqual([
      ["start", writable.executionId],
      ["end", writable.executionId],
    ]);
  });

  it("keeps every record written before the disk filled, never leaves half a record, and resumes when space frees up", async () => {
    const directory = mountTmpfs("size=16k");
    const auditPath = join(directory, "audit.jsonl");
    server = await startServer({ env: { BPFTRACE_PATH: fake, BPFTRACE_MCP_AUDIT_LOG: auditPath } });
    const before = [await traceOnce(server), await traceOnce(server)];
    for (const outcome of before) expect(outcome).toMatchObject({ status: "completed", startWarnings: [], endWarnings: [] });

    const filler = join(directory, "filler");
    const fd = openSync(filler, "w");
    try {
      for (;;) writeSync(fd, Buffer.alloc(1024, 0x2e));
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe("ENOSPC");
    } finally {
      closeSync(fd);
    }
    // The log's last page may still have room for a few records: trace until a write fails.
    const whileFull: TraceOutcome[] = [];
    const noSpace = `audit log ${auditPath} could not be written: ENOSPC`;
    while (whileFull.length < 30 && !whileFull.some((outcome) => outcome.startWarnings.length + outcome.endWarnings.length > 0)) {
      whileFull.push(await traceOnce(server));
    }
    const failing = whileFull.at(-1);
    expect([...(failing?.startWarnings ?? []), ...(failing?.endWarnings ?? [])]).toContain(noSpace);
    for (const outcome of whileFull) expect(outcome).toMatchObject({ status: "completed", lines: ["line 0", "line 1"] });
    expect(logEntries(server, AUDIT_FAILED)).toEqual([expect.objectContaining({ err: expect.stringMatching(/ENOSPC/) as unknown })]);

    unlinkSync(filler);
    const after = await traceOnce(server);
    expect(after).toMatchObject({ status: "completed", startWarnings: [], endWarnings: [] });
    expect(logEntries(server, AUDIT_BACK)).toHaveLength(1);

    const recorded = auditRecords(auditPath).map((record) => `${record.event} ${String(record.execution_id)}`);
    const expectedRecords = [...before, ...whileFull, after].flatMap((outcome) => [
      ...(outcome.startWarnings.length === 0 ? [`start ${outcome.executionId}`] : []),
      ...(outcome.endWarnings.length === 0 ? [`end ${outcome.executionId}`] : []),
    ]);
    expect(recorded).toEqual(expectedRecords);
  });
});
