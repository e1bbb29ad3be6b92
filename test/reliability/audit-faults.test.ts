import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runOrThrow, tmpfsMounts } from "../helpers/fault-fixtures.js";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { processesWith } from "../helpers/processes.js";
import { startServer, textOf, type RunningServer } from "../helpers/server-process.js";

interface TraceOutcome {
  executionId: string;
  /** warnings of exec_program. */
  startWarnings: string[];
  /** warnings of get_result once it ended (the `end` record). */
  endWarnings: string[];
  status: string;
  lines: string[];
}

/** What exec_program answered when the audit log could not take the start: nothing ran. */
interface Refusal {
  refused: string;
}

const PROGRAM = "BEGIN { } // fake: lines=2 // fake: exit-after-attach=0";
const AUDIT_FAILED = "audit log write failed: no new execution can start until it is writable";
const AUDIT_BACK = "audit log writable again";

// Mounting needs root, which ignores directory permissions: so the faults are a full or read-only
// tmpfs, and a path under a regular file, not a chmod-ed directory.
const asRoot = process.geteuid?.() === 0;
const describeAsRoot = asRoot ? describe : process.env.CI ? describe : describe.skip;

const run = runOrThrow;

/** Runs one short trace and follows it to its end, collecting the warnings of both results; or the refusal, when it was not started. */
async function traceOnce(server: RunningServer): Promise<TraceOutcome | Refusal> {
  const started = await server.call("exec_program", { program: PROGRAM, timeout: 5 });
  if (started.isError) return { refused: textOf(started) };
  const { execution_id: executionId, warnings: startWarnings } = started.structuredContent as { execution_id: string; warnings: string[] };
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const result = await server.call("get_result", { execution_id: executionId, wait_seconds: 1, offset: 2 });
    const page = result.structuredContent as { status: string; warnings: string[] };
    if (page.status !== "running") {
      const all = (await server.call("get_result", { execution_id: executionId })).structuredContent as { lines: string[] };
      return { executionId, startWarnings, endWarnings: page.warnings, status: page.status, lines: all.lines };
    }
  }
  throw new Error(`${executionId} did not end`);
}

const wasRefused = (outcome: TraceOutcome | Refusal): outcome is Refusal => "refused" in outcome;

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
  const tmpfs = tmpfsMounts(scratch);
  const mountTmpfs = tmpfs.mount;

  beforeAll(() => {
    if (!asRoot) throw new Error("audit fault tests need root (to mount tmpfs) and are required in CI");
    fake = installFakeBpftrace();
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  afterAll(() => {
    tmpfs.unmountAll();
    rmSync(scratch, { recursive: true, force: true });
    if (fake) rmSync(dirname(fake), { recursive: true, force: true });
  });

  it("starts nothing while the log's parent is a regular file: AUDIT_UNAVAILABLE naming the fault, logged once", async () => {
    const parentFile = join(scratch, "not-a-directory");
    writeFileSync(parentFile, "");
    const auditPath = join(parentFile, "audit.jsonl");
    const marker = `audit-eexist-${process.pid}`;
    server = await startServer({ env: { BPFTRACE_PATH: fake, BPFTRACE_MCP_AUDIT_LOG: auditPath } });
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const started = await server.call("exec_program", { program: `${PROGRAM} // ${marker}`, timeout: 5 });
      expect(started.isError).toBe(true);
      expect(textOf(started)).toMatch(/^AUDIT_UNAVAILABLE: The audit log could not record the start of this run, so it was not started: audit log .* could not be written: EEXIST/);
      expect(textOf(started)).toMatch(/Fix: .*audit log writable/);
      expect(processesWith(marker)).toEqual([]);
    }
    expect((await server.call("list_executions", {})).structuredContent).toMatchObject({ executions: [] });
    // Logged when it starts failing, not on every record.
    expect(logEntries(server, AUDIT_FAILED)).toEqual([expect.objectContaining({ path: auditPath, err: expect.stringMatching(/EEXIST/) as unknown })]);
  });

  it("refuses starts while the log's filesystem is read-only and starts again, saying so, once it is writable", async () => {
    const directory = mountTmpfs("size=8k,ro");
    const auditPath = join(directory, "audit.jsonl");
    server = await startServer({ env: { BPFTRACE_PATH: fake, BPFTRACE_MCP_AUDIT_LOG: auditPath } });
    const readOnly = await traceOnce(server);
    expect(wasRefused(readOnly) && readOnly.refused).toMatch(/^AUDIT_UNAVAILABLE: .*could not be written: EROFS/);
    expect(logEntries(server, AUDIT_FAILED)).toHaveLength(1);
    run("mount", ["-o", "remount,rw", directory]);
    const writable = await traceOnce(server);
    expect(writable).toMatchObject({ status: "completed", startWarnings: [], endWarnings: [] });
    expect(logEntries(server, AUDIT_BACK)).toEqual([expect.objectContaining({ path: auditPath })]);
    const executionId = (writable as TraceOutcome).executionId;
    expect(auditRecords(auditPath).map((record) => [record.event, record.execution_id])).toEqual([
      ["program", undefined],
      ["start", executionId],
      ["end", executionId],
    ]);
  });

  it("keeps every record written before the disk filled, never leaves half a record, refuses starts while full, and resumes when space frees up", async () => {
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
    // The log's last page may still have room for a few records: trace until a start is refused.
    const whileFull: (TraceOutcome | Refusal)[] = [];
    while (whileFull.length < 30 && !whileFull.some(wasRefused)) whileFull.push(await traceOnce(server));
    const refused = whileFull.at(-1);
    expect(refused && wasRefused(refused) && refused.refused).toMatch(/^AUDIT_UNAVAILABLE: .*could not be written: ENOSPC/);
    // Runs that did start ran to their end; an end the log could not take is a warning of that run.
    const ran = whileFull.filter((outcome): outcome is TraceOutcome => !wasRefused(outcome));
    for (const outcome of ran) expect(outcome).toMatchObject({ status: "completed", lines: ["line 0", "line 1"], startWarnings: [] });
    expect(logEntries(server, AUDIT_FAILED)).toEqual([expect.objectContaining({ err: expect.stringMatching(/ENOSPC/) as unknown })]);

    unlinkSync(filler);
    const after = await traceOnce(server);
    expect(after).toMatchObject({ status: "completed", startWarnings: [], endWarnings: [] });
    expect(logEntries(server, AUDIT_BACK)).toHaveLength(1);

    const recorded = auditRecords(auditPath)
      .filter((record) => record.event !== "program")
      .map((record) => `${record.event} ${String(record.execution_id)}`);
    const expectedRecords = [...(before as TraceOutcome[]), ...ran, after as TraceOutcome].flatMap((outcome) => [`start ${outcome.executionId}`, ...(outcome.endWarnings.length === 0 ? [`end ${outcome.executionId}`] : [])]);
    expect(recorded).toEqual(expectedRecords);
  });
});
