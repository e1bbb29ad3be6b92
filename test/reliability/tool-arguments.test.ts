import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { isAlive, startServer, textOf, waitFor, type RunningServer } from "../helpers/server-process.js";

// One bad argument per row: the tool it goes to, what is wrong, the arguments as the client sends
// them, and what the message must say so the assistant knows what to change.
interface BadArgument {
  tool: string;
  what: string;
  args: Record<string, unknown>;
  says: RegExp;
}

const UNKNOWN_ID = "ex-000000000000";
const TWO_MB = 2 * 1024 * 1024;
const ID_SHAPE = /execution_id looks like 'ex-' followed by 12 hex digits, as returned by exec_program/;
const validation = (tool: string, field: string, detail: RegExp): RegExp =>
  new RegExp(`^MCP error -32602: Input validation error: Invalid arguments for tool ${tool}: [\\s\\S]*${detail.source}[\\s\\S]* at ${field}`);

// JSON has no NaN or Infinity: JSON.stringify turns both into null, and that is what the SDK client sends.
const NAN_ON_THE_WIRE = JSON.parse(JSON.stringify({ value: Number.NaN })) as { value: unknown };
const INFINITY_ON_THE_WIRE = JSON.parse(JSON.stringify({ value: Number.POSITIVE_INFINITY })) as { value: unknown };

const BAD_ARGUMENTS: BadArgument[] = [
  { tool: "exec_program", what: "program and example missing", args: {}, says: /^INVALID_ARGUMENT: Pass program \(bpftrace source\) or example \(a library name\)\.\nFix: list_examples finds a ready-made program/ },
  { tool: "exec_program", what: "program and example both", args: { program: "BEGIN { }", example: "file-opens" }, says: /^INVALID_ARGUMENT: Pass either program or example, not both/ },
  { tool: "exec_program", what: "example unknown", args: { example: "no-such-example" }, says: /^UNKNOWN_EXAMPLE: There is no example named 'no-such-example'/ },
  { tool: "exec_program", what: "example is a path", args: { example: "../../etc/passwd" }, says: validation("exec_program", "example", /example is a name from list_examples/) },
  { tool: "exec_program", what: "pid with a program", args: { program: "BEGIN { }", pid: 1 }, says: /^INVALID_ARGUMENT: pid, comm and threshold apply to a library example only/ },
  { tool: "exec_program", what: "pid is 0", args: { example: "file-opens", pid: 0 }, says: validation("exec_program", "pid", /pid must be at least 1/) },
  { tool: "exec_program", what: "comm closes the string", args: { example: "file-opens", comm: 'a" || 1 || "' }, says: validation("exec_program", "comm", /comm is a command name of 1-15 characters/) },
  { tool: "exec_program", what: "threshold the example does not take", args: { example: "file-opens", threshold: 10 }, says: /^INVALID_ARGUMENT: Example file-opens takes no threshold: it takes pid, comm\./ },
  { tool: "exec_program", what: "threshold is fractional", args: { example: "fsync-latency", threshold: 1.5 }, says: validation("exec_program", "threshold", /threshold must be a whole number/) },
  { tool: "exec_program", what: "program is a number", args: { program: 42 }, says: validation("exec_program", "program", /expected string, received number/) },
  { tool: "exec_program", what: "program is null", args: { program: null }, says: validation("exec_program", "program", /expected string, received null/) },
  { tool: "exec_program", what: "program is an array", args: { program: ["BEGIN { }"] }, says: validation("exec_program", "program", /expected string, received array/) },
  { tool: "exec_program", what: "program is empty", args: { program: "" }, says: validation("exec_program", "program", /program is empty: pass bpftrace source/) },
  { tool: "exec_program", what: "program is only blanks", args: { program: "  \n\t\n" }, says: /^POLICY_REFUSED: [\s\S]*the policy found no probe in this program[\s\S]*Instead: write at least one probe block/ },
  { tool: "exec_program", what: "program is only a comment", args: { program: "// just a note" }, says: /^POLICY_REFUSED: [\s\S]*the policy found no probe in this program/ },
  { tool: "exec_program", what: "program is 2 MB", args: { program: `BEGIN { } //${"x".repeat(TWO_MB)}` }, says: /^POLICY_REFUSED: [\s\S]*the program is 2097165 bytes; the limit is 65536\. Instead: split the investigation into smaller programs/ },
  { tool: "exec_program", what: "program holds a NUL byte", args: { program: 'BEGIN { printf("a\u0000b"); }' }, says: /^POLICY_REFUSED: [\s\S]*line 1, column 18: `U\+0000` — NUL bytes are not allowed anywhere/ },
  { tool: "exec_program", what: "timeout is a string", args: { program: "BEGIN { }", timeout: "5" }, says: validation("exec_program", "timeout", /timeout must be a number of seconds/) },
  { tool: "exec_program", what: "timeout is NaN (null on the wire)", args: { program: "BEGIN { }", timeout: Number.NaN }, says: validation("exec_program", "timeout", /timeout must be a number of seconds/) },
  { tool: "exec_program", what: "timeout is Infinity (null on the wire)", args: { program: "BEGIN { }", timeout: Number.POSITIVE_INFINITY }, says: validation("exec_program", "timeout", /timeout must be a number of seconds/) },
  { tool: "exec_program", what: "timeout is -1", args: { program: "BEGIN { }", timeout: -1 }, says: validation("exec_program", "timeout", /timeout must be between 1 and 60 seconds/) },
  { tool: "exec_program", what: "timeout is 1e308", args: { program: "BEGIN { }", timeout: 1e308 }, says: validation("exec_program", "timeout", /timeout must be between 1 and 60 seconds/) },
  { tool: "get_result", what: "execution_id missing", args: {}, says: validation("get_result", "execution_id", /expected string, received undefined/) },
  { tool: "get_result", what: "execution_id is a number", args: { execution_id: 12 }, says: validation("get_result", "execution_id", /expected string, received number/) },
  { tool: "get_result", what: "execution_id is a relative path", args: { execution_id: "../../etc/passwd" }, says: validation("get_result", "execution_id", ID_SHAPE) },
  { tool: "get_result", what: "execution_id is an absolute path", args: { execution_id: "/proc/self/environ" }, says: validation("get_result", "execution_id", ID_SHAPE) },
  { tool: "get_result", what: "execution_id ends in a NUL byte", args: { execution_id: "ex-00000000000\u0000" }, says: validation("get_result", "execution_id", ID_SHAPE) },
  { tool: "get_result", what: "execution_id in capitals", args: { execution_id: "EX-ABCDEF012345" }, says: validation("get_result", "execution_id", ID_SHAPE) },
  { tool: "get_result", what: "execution_id unknown", args: { execution_id: UNKNOWN_ID }, says: /^UNKNOWN_EXECUTION: No execution has the id 'ex-000000000000'\.\nFix: Use an execution_id returned by exec_program; list_executions shows the known ones/ },
  { tool: "get_result", what: "offset is fractional", args: { execution_id: UNKNOWN_ID, offset: 1.5 }, says: validation("get_result", "offset", /offset must be a whole number/) },
  { tool: "get_result", what: "offset is -1", args: { execution_id: UNKNOWN_ID, offset: -1 }, says: validation("get_result", "offset", /offset must be 0 or more/) },
  // 1e308 is whole, but beyond Number.MAX_SAFE_INTEGER, which zod's int() also refuses (with its int message).
  { tool: "get_result", what: "offset is 1e308", args: { execution_id: UNKNOWN_ID, offset: 1e308 }, says: validation("get_result", "offset", /offset must be a whole number/) },
  { tool: "get_result", what: "limit is 0", args: { execution_id: UNKNOWN_ID, limit: 0 }, says: validation("get_result", "limit", /limit must be at least 1/) },
  { tool: "get_result", what: "limit is 10001", args: { execution_id: UNKNOWN_ID, limit: 10_001 }, says: validation("get_result", "limit", /limit must be at most 10000/) },
  { tool: "get_result", what: "wait_seconds is -1", args: { execution_id: UNKNOWN_ID, wait_seconds: -1 }, says: validation("get_result", "wait_seconds", /wait_seconds must be 0 or more/) },
  { tool: "get_result", what: "wait_seconds is 31", args: { execution_id: UNKNOWN_ID, wait_seconds: 31 }, says: validation("get_result", "wait_seconds", /wait_seconds must be at most 30/) },
  { tool: "get_result", what: "wait_seconds is NaN (null on the wire)", args: { execution_id: UNKNOWN_ID, wait_seconds: Number.NaN }, says: validation("get_result", "wait_seconds", /expected number, received null/) },
  { tool: "get_result", what: "snapshot_maps is a string", args: { execution_id: UNKNOWN_ID, snapshot_maps: "yes" }, says: validation("get_result", "snapshot_maps", /expected boolean, received string/) },
  { tool: "get_result", what: "until is not a mode", args: { execution_id: UNKNOWN_ID, until: "forever" }, says: validation("get_result", "until", /Invalid option: expected one of "output"\|"quiet"\|"end"/) },
  { tool: "get_result", what: "max_chars is 10", args: { execution_id: UNKNOWN_ID, max_chars: 10 }, says: validation("get_result", "max_chars", /max_chars must be at least 100/) },
  { tool: "get_result", what: "tail is 0", args: { execution_id: UNKNOWN_ID, tail: 0 }, says: validation("get_result", "tail", /tail must be at least 1/) },
  { tool: "get_result", what: "stream is both", args: { execution_id: UNKNOWN_ID, stream: "both" }, says: validation("get_result", "stream", /Invalid option/) },
  { tool: "stop_execution", what: "execution_id missing", args: {}, says: validation("stop_execution", "execution_id", /expected string, received undefined/) },
  { tool: "stop_execution", what: "execution_id is path-like", args: { execution_id: `../${UNKNOWN_ID}` }, says: validation("stop_execution", "execution_id", ID_SHAPE) },
  { tool: "stop_execution", what: "execution_id unknown", args: { execution_id: "ex-ffffffffffff" }, says: /^UNKNOWN_EXECUTION: No execution has the id 'ex-ffffffffffff'/ },
  { tool: "list_probes", what: "filter is a number", args: { filter: 7 }, says: validation("list_probes", "filter", /expected string, received number/) },
  { tool: "list_probes", what: "filter holds a NUL byte", args: { filter: "tracepoint:\u0000" }, says: /^INVALID_ARGUMENT: Invalid probe filter: it contains whitespace or a control character at position 12\. A filter is a probe glob/ },
  { tool: "list_probes", what: "filter looks like an option", args: { filter: "--unsafe" }, says: /^INVALID_ARGUMENT: Invalid probe filter: it starts with `-`, which bpftrace would read as a command-line option/ },
  { tool: "list_probes", what: "filter climbs directories", args: { filter: "uprobe:../../bin/sh:*" }, says: /^INVALID_ARGUMENT: Invalid probe filter: `\.\.` is not allowed/ },
  { tool: "list_probes", what: "filter is 600 characters", args: { filter: "a".repeat(600) }, says: /^INVALID_ARGUMENT: Invalid probe filter: it is 600 characters long; the limit is 512/ },
  { tool: "list_probes", what: "limit is 1e308", args: { limit: 1e308 }, says: validation("list_probes", "limit", /limit must be at most 10000/) },
  { tool: "list_probes", what: "offset is -1", args: { offset: -1 }, says: validation("list_probes", "offset", /offset must be 0 or more/) },
  { tool: "list_probes", what: "verbose is a string", args: { verbose: "true" }, says: validation("list_probes", "verbose", /expected boolean, received string/) },
  { tool: "validate_program", what: "program missing", args: {}, says: validation("validate_program", "program", /expected string, received undefined/) },
  { tool: "validate_program", what: "program is empty", args: { program: "" }, says: validation("validate_program", "program", /program is empty: pass bpftrace source/) },
  { tool: "list_examples", what: "query is 201 characters", args: { query: "q".repeat(201) }, says: validation("list_examples", "query", /query must be at most 200 characters/) },
  { tool: "list_examples", what: "tag is a number", args: { tag: 5 }, says: validation("list_examples", "tag", /expected string, received number/) },
  { tool: "get_example", what: "name missing", args: {}, says: validation("get_example", "name", /expected string, received undefined/) },
  { tool: "get_example", what: "name is a path", args: { name: "../../etc/passwd" }, says: validation("get_example", "name", /name is a kebab-case example name from list_examples, e.g\. file-opens/) },
  { tool: "get_example", what: "name unknown", args: { name: "no-such-example" }, says: /^UNKNOWN_EXAMPLE: There is no example named 'no-such-example'\.\nFix: list_examples shows the names/ },
  { tool: "describe_struct", what: "name missing", args: {}, says: validation("describe_struct", "name", /expected string, received undefined/) },
  { tool: "describe_struct", what: "name carries a shell command", args: { name: "task_struct; rm -rf /" }, says: validation("describe_struct", "name", /name is a C type name such as task_struct or 'struct sock'/) },
  { tool: "describe_struct", what: "name is empty", args: { name: "" }, says: validation("describe_struct", "name", /name is a C type name/) },
];

describe("bad tool arguments against the built server (fake bpftrace)", () => {
  let server: RunningServer;
  let executionId: string;
  let fake: string;

  beforeAll(async () => {
    fake = installFakeBpftrace();
    server = await startServer({ env: { BPFTRACE_PATH: fake } });
    const started = await server.call("exec_program", { program: "BEGIN { } // fake: lines=3 // fake: exit-after-attach=0", timeout: 5 });
    expect(started.isError, textOf(started)).toBeFalsy();
    executionId = (started.structuredContent as { execution_id: string }).execution_id;
    expect(await waitFor(async () => (await server.call("get_result", { execution_id: executionId })).structuredContent?.status === "completed", 5_000)).toBe(true);
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dirname(fake), { recursive: true, force: true });
  });

  it("sends NaN and Infinity as null, because JSON cannot carry them", () => {
    expect(NAN_ON_THE_WIRE.value).toBeNull();
    expect(INFINITY_ON_THE_WIRE.value).toBeNull();
  });

  it(`answers each of ${BAD_ARGUMENTS.length} bad arguments with an isError result saying what to change`, async () => {
    expect(BAD_ARGUMENTS.length).toBeGreaterThanOrEqual(30);
    expect(new Set(BAD_ARGUMENTS.map((row) => row.tool)).size).toBe(8);
    const failures: string[] = [];
    for (const row of BAD_ARGUMENTS) {
      const result = await server.call(row.tool, row.args);
      const text = textOf(result);
      if (result.isError !== true || !row.says.test(text) || result.structuredContent !== undefined) {
        failures.push(`${row.tool} (${row.what}): isError=${String(result.isError)} text=${text.slice(0, 300)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("treated every bad argument as the caller's mistake: no internal error was logged and nothing was left running", async () => {
    expect(server.stderr()).not.toMatch(/tool failed unexpectedly|"level":50/);
    const listing = await server.call("list_executions");
    const executions = (listing.structuredContent as { executions: { execution_id: string; status: string }[]; running: number }).executions;
    expect((listing.structuredContent as { running: number }).running).toBe(0);
    // Nothing but the one good execution reached bpftrace: blank and comment-only programs are refused by the policy.
    expect(executions.filter((execution) => execution.execution_id !== executionId).map((execution) => execution.status)).toEqual([]);
  });

  it("returns an empty page, not an error, for a get_result offset past the end", async () => {
    for (const offset of [3, 4, 1_000_000, Number.MAX_SAFE_INTEGER]) {
      const result = await server.call("get_result", { execution_id: executionId, offset });
      expect(result.isError, textOf(result)).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ status: "completed", lines_total: 3, offset, lines: [], next_offset: offset, has_more: false, skipped: 0 });
    }
  });

  it("returns an empty page, not an error, for a list_probes offset past the end", async () => {
    const result = await server.call("list_probes", { offset: 1_000_000 });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(result.structuredContent).toEqual({ probes: [], count: 3, offset: 1_000_000, truncated: false, details: null, note: null });
  });

  it("gives a verdict, not an error, when validate_program is handed a 2 MB program or a NUL byte", async () => {
    const huge = await server.call("validate_program", { program: `BEGIN { } //${"x".repeat(TWO_MB)}` });
    expect(huge.isError).toBeFalsy();
    expect(huge.structuredContent).toMatchObject({ valid: false, compiled: null, policy: { allowed: false, violations: [{ rule: "size" }] } });
    const nul = await server.call("validate_program", { program: 'BEGIN { printf("a\u0000b"); }' });
    expect(nul.structuredContent).toMatchObject({ valid: false, policy: { violations: [{ rule: "character", line: 1, column: 18 }] } });
  });

  it("ignores unknown arguments on tools that take none", async () => {
    for (const tool of ["bpf_info", "list_executions"]) {
      const result = await server.call(tool, { surprise: true, execution_id: "../../etc" });
      expect(result.isError, `${tool}: ${textOf(result)}`).toBeFalsy();
    }
  });

  it("still runs a trace after all the bad calls", async () => {
    const started = await server.call("exec_program", { program: "BEGIN { } // fake: lines=2", timeout: 1 });
    expect(started.isError, textOf(started)).toBeFalsy();
    expect(started.structuredContent).toMatchObject({ status: "running", attached_probes: 1, warnings: [] });
    expect(isAlive(server.pid)).toBe(true);
  });
});
