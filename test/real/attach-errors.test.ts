// exec_program returns only once bpftrace has attached every probe (the server's BEGIN marker), so a
// probe that does not attach is an ATTACH_ERROR from exec_program itself, on every version: 0.17-0.23
// print "Attaching N probes" before attaching, and 0.17 skips a uprobe on a missing symbol silently.
import { existsSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeReal, hostPathOf } from "../helpers/real-bpftrace.js";
import { startServer, textOf, type RunningServer } from "../helpers/server-process.js";

type Structured = Record<string, unknown>;

// This kernel is built without kprobes; on one with them, a function that cannot exist stands in.
const KPROBE_PROGRAM = "kprobe:bpftrace_mcp_no_such_function_x { @ = count(); }";
const KPROBES_HERE = existsSync("/sys/kernel/tracing/kprobe_events") || existsSync("/sys/kernel/debug/tracing/kprobe_events");

describeReal("attach failures come back from exec_program", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.close();
  });
  const structured = (result: Awaited<ReturnType<RunningServer["call"]>>): Structured => (result.structuredContent ?? {}) as Structured;

  it("answers a kprobe this kernel cannot attach with ATTACH_ERROR or, where the function is unknown, a compile error naming it", async () => {
    const result = await server.call("exec_program", { program: KPROBE_PROGRAM, timeout: 2 });
    expect(result.isError, textOf(result)).toBe(true);
    if (KPROBES_HERE) expect(textOf(result)).toMatch(/^(ATTACH_ERROR|COMPILE_ERROR): [\s\S]*bpftrace_mcp_no_such_function_x/);
    else expect(textOf(result)).toMatch(/^ATTACH_ERROR: [\s\S]*kprobe/);
  });

  it("answers a uprobe on a symbol that does not exist with ATTACH_ERROR", async () => {
    const bash = ["/usr/bin/bash", "/bin/bash"].find((path) => existsSync(hostPathOf(path))) ?? "/bin/bash";
    const result = await server.call("exec_program", { program: `uprobe:${bash}:bpftrace_mcp_no_such_symbol { @ = count(); }`, timeout: 2 });
    expect(result.isError, textOf(result)).toBe(true);
    expect(textOf(result)).toMatch(/^ATTACH_ERROR: /);
    const listed = structured(await server.call("list_executions")).executions as { status: string }[];
    expect(listed.filter((execution) => execution.status === "running")).toEqual([]);
  });

  it("runs a program with a config block that tolerates missing probes (0.20+)", async () => {
    const program = 'config = { missing_probes = "ignore" }\ntracepoint:syscalls:sys_enter_getppid { @calls = count(); }';
    const result = await server.call("exec_program", { program, timeout: 1 });
    // 0.17 has no config blocks: it says so at compile time; from 0.20 the block is honoured.
    if (result.isError) {
      expect(textOf(result)).toMatch(/^COMPILE_ERROR: [\s\S]*(config|syntax error)/);
      return;
    }
    const id = structured(result).execution_id as string;
    // Long-poll from the end of what is there (0.27 prints a warning first) until the run ends.
    const deadline = Date.now() + 15_000;
    let page = structured(result);
    let offset = page.lines_total as number;
    while (page.status === "running" && Date.now() < deadline) {
      page = structured(await server.call("get_result", { execution_id: id, offset, wait_seconds: 3 }));
      offset = page.next_offset as number;
      if (page.status === "running") await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(page.status).toBe("timed_out");
  });
});
