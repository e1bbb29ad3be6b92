import { spawn } from "node:child_process";
import { openSync, closeSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { bpftraceProcessesWith } from "../helpers/processes.js";
import { describeReal, versionUnderTest } from "../helpers/real-bpftrace.js";
import { RAW_PAGE, pageLines, type OutputLine } from "../helpers/output-lines.js";
import { startServer, textOf, waitFor, type RunningServer } from "../helpers/server-process.js";

type Structured = Record<string, unknown> & { lines?: string[]; maps?: { name: string; kind: string; origin: string; entries: { key: unknown[]; value?: number }[] }[] };

describeReal("the server against the real bpftrace", () => {
  let server: RunningServer;
  const markerDir = mkdtempSync(join(tmpdir(), "bpftrace-mcp-marker-"));

  beforeAll(async () => {
    server = await startServer();
    // With the tools listed, the SDK client checks every result against its advertised output schema.
    await server.client.listTools();
  });

  afterAll(async () => {
    if (process.env.DUMP_SERVER_LOG) (await import("node:fs")).writeFileSync(process.env.DUMP_SERVER_LOG, server.stderr());
    await server?.close();
    rmSync(markerDir, { recursive: true, force: true });
  });

  const structured = (result: Awaited<ReturnType<RunningServer["call"]>>): Structured => result.structuredContent as Structured;

  // A failed test must not leave traces holding the concurrency slots the next test needs.
  afterEach(async () => {
    const listed = structured(await server.call("list_executions")).executions as { execution_id: string; status: string }[];
    for (const execution of listed.filter((candidate) => candidate.status === "running")) {
      await server.call("stop_execution", { execution_id: execution.execution_id });
    }
  });

  it("lists and filters probes, paging a large result", async () => {
    const all = await server.call("list_probes", { limit: 5 });
    expect(all.isError).toBeFalsy();
    expect(structured(all).count as number).toBeGreaterThan(1000);
    expect(structured(all).truncated).toBe(true);
    expect(structured(all).probes).toHaveLength(5);
    const opens = await server.call("list_probes", { filter: "tracepoint:syscalls:sys_enter_open*" });
    expect(structured(opens).probes).toContain("tracepoint:syscalls:sys_enter_openat");
    expect((structured(opens).probes as string[]).every((probe) => probe.startsWith("tracepoint:syscalls:sys_enter_open"))).toBe(true);
    const cached = await server.call("list_probes", { filter: "tracepoint:syscalls:sys_enter_open*" });
    expect(structured(cached).probes).toEqual(structured(opens).probes);
  });

  it("gives a tracepoint's arguments with verbose", async () => {
    const result = await server.call("list_probes", { filter: "tracepoint:syscalls:sys_enter_openat", verbose: true });
    const details = structured(result).details as { probe: string; args: { type: string; name: string }[] }[];
    expect(details[0]?.probe).toBe("tracepoint:syscalls:sys_enter_openat");
    expect(details[0]?.args).toContainEqual({ type: "const char *", name: "filename" });
    expect(textOf(result)).toContain("const char * filename");
  });

  it("reports kernel capabilities from bpftrace --info", async () => {
    const result = await server.call("bpf_info");
    expect(result.isError).toBeFalsy();
    const info = structured(result);
    expect(info.bpftrace_version).toBe(versionUnderTest()?.text);
    // 0.24+ list only the probe types they had to probe for, tracepoint not among them.
    expect((info.probe_types as Record<string, boolean> | null)?.tracepoint).not.toBe(false);
    // A capability section bpftrace did not print is null and named, never an empty "none supported".
    const printed = new Set((info.sections as { name: string }[]).map((section) => section.name));
    const fields = { "Kernel helpers": "helpers", "Kernel features": "features", "Map types": "map_types", "Probe types": "probe_types" } as const;
    expect(info.not_reported).toEqual(Object.keys(fields).filter((name) => !printed.has(name)));
    for (const [section, field] of Object.entries(fields)) expect(info[field] === null, field).toBe(!printed.has(section));
    expect(info.privilege).toBe("root");
    const checks = info.checks as { id: string; status: string }[];
    expect(checks.find((check) => check.id === "tracefs")?.status).toBe("ok");
    expect(checks.find((check) => check.id === "trace-test")?.status).toBe("ok");
  });

  it("traces openat and finds the file the test opened", async () => {
    const marker = join(markerDir, `opened-${process.pid}`);
    writeFileSync(marker, "x");
    const started = await server.call("exec_program", {
      program: `tracepoint:syscalls:sys_enter_openat /str(args->filename) == "${marker}"/ { printf("OPEN %s %s\\n", comm, str(args->filename)); }`,
      timeout: 10,
    });
    expect(started.isError, textOf(started)).toBeFalsy();
    const executionId = structured(started).execution_id as string;
    expect(structured(started).attached_probes).toBe(1);
    const seen: OutputLine[] = [];
    let offset = 0;
    const deadline = Date.now() + 8_000;
    const found = (): boolean => seen.some((line) => line.stream === "stdout" && line.text.startsWith("OPEN ") && line.text.includes(marker));
    // (bpftrace 0.17's stderr warning quotes the program, marker included: only the stdout line counts.)
    while (Date.now() < deadline && !found()) {
      // Opened on every round: bpftrace 0.17 prints "Attaching 1 probe..." just before it attaches,
      // so an open in the very first milliseconds can come before the probe is there.
      closeSync(openSync(marker, "r"));
      const page = structured(await server.call("get_result", { execution_id: executionId, offset, wait_seconds: 1 }));
      seen.push(...pageLines(page));
      offset = page.next_offset as number;
    }
    expect(found(), JSON.stringify(seen.slice(0, 20))).toBe(true);
    await server.call("stop_execution", { execution_id: executionId });
  });

  it("returns a map-only program's counts parsed, with the final status, in one get_result until the end", async () => {
    const started = await server.call("exec_program", { program: "tracepoint:raw_syscalls:sys_enter { @syscalls[comm] = count(); }", timeout: 2 });
    const executionId = structured(started).execution_id as string;
    const result = structured(await server.call("get_result", { execution_id: executionId, until: "end" }));
    expect(result.status).toBe("timed_out");
    const map = result.maps?.find((candidate) => candidate.name === "@syscalls");
    expect(map?.kind).toBe("value");
    expect(map?.origin).toBe("end");
    expect(map?.entries.length).toBeGreaterThan(0);
    // Largest first, and the same counts as the text bpftrace printed.
    const values = map?.entries.map((entry) => entry.value ?? 0) ?? [];
    expect(values).toEqual([...values].sort((a, b) => b - a));
    const raw = structured(await server.call("get_result", { execution_id: executionId, ...RAW_PAGE }));
    const printed = new Map<string, number>();
    for (const line of raw.lines ?? []) {
      const match = /^@syscalls\[(.+)\]: (\d+)$/.exec(line);
      if (match) printed.set(match[1] ?? "", Number(match[2]));
    }
    for (const entry of map?.entries ?? []) expect(printed.get(String(entry.key[0]))).toBe(entry.value);
    expect(result.duration_ms as number).toBeGreaterThanOrEqual(2000);
    expect(result.duration_ms as number).toBeLessThan(20_000);
  });

  it("runs a library example by name for one process, naming the syscalls its maps count", async () => {
    // A process of our own under a name of its own (a symlink: the kernel takes comm from the name).
    const link = join(markerDir, "mcp-failer");
    symlinkSync(process.execPath, link);
    const failer = spawn(link, ["-e", "setInterval(() => { for (let i = 0; i < 20; i++) { try { require('fs').closeSync(987654); } catch {} } }, 5);"], { stdio: "ignore" });
    try {
      const started = await server.call("exec_program", { example: "syscall-errors", comm: "mcp-failer", timeout: 2 });
      expect(started.isError, textOf(started)).toBeFalsy();
      const result = structured(await server.call("get_result", { execution_id: structured(started).execution_id as string, until: "end" }));
      const errors = result.maps?.find((map) => map.name === "@syscall_errors");
      expect(errors?.entries.length).toBeGreaterThan(0);
      // Only the one command got through the filter; its failing close() is named, not numbered.
      expect(errors?.entries.every((entry) => entry.key[0] === "mcp-failer")).toBe(true);
      expect(errors?.entries[0]?.key).toEqual(["mcp-failer", failer.pid, "close", 9, "EBADF"]);
    } finally {
      failer.kill("SIGKILL");
    }
  });

  it("returns a compile error from exec_program with line and column", async () => {
    const result = await server.call("exec_program", { program: "BEGIN { printf(\"%d\\n\", nosuchthing); }" });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/COMPILE_ERROR/);
    expect(textOf(result)).toMatch(/stdin:1:\d+/);
  });

  it("reports a missing tracepoint as an error from exec_program", async () => {
    const result = await server.call("exec_program", { program: "tracepoint:nope:nope { }" });
    expect(result.isError).toBe(true);
    // 0.17-0.23: "tracepoint not found: nope:nope"; 0.27: "No matches for tracepoint nope:nope."
    expect(textOf(result)).toMatch(/tracepoint not found|No matches for tracepoint/);
  });

  it("stops a trace early, keeping END's output", async () => {
    const started = await server.call("exec_program", { program: 'interval:ms:50 { @ticks = count(); printf("tick\\n"); } END { printf("END-RAN\\n"); }', timeout: 60 });
    const executionId = structured(started).execution_id as string;
    // A tick first: a stop before the first one would leave the map empty (not printed). Waited for,
    // not slept for: on a loaded machine 0.27 can take longer than a fixed pause to fire it.
    let offset = structured(started).lines_total as number;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      const page = structured(await server.call("get_result", { execution_id: executionId, offset, wait_seconds: 2 }));
      if ((page.lines ?? []).includes("tick")) break;
      offset = page.next_offset as number;
    }
    const stopped = await server.call("stop_execution", { execution_id: executionId });
    expect(structured(stopped).status).toBe("stopped");
    const result = structured(await server.call("get_result", { execution_id: executionId, limit: 10_000 }));
    expect(result.lines).toContain("END-RAN");
    expect(result.maps?.find((map) => map.name === "@ticks")?.entries[0]?.value).toBeGreaterThan(0);
  });

  it("long-polls: get_result waits for the next line instead of returning empty", async () => {
    const started = await server.call("exec_program", { program: 'interval:ms:700 { printf("tick\\n"); }', timeout: 10 });
    const executionId = structured(started).execution_id as string;
    const before = Date.now();
    // From the first line after the start: bpftrace 0.27 prints a warning while compiling.
    const result = await server.call("get_result", { execution_id: executionId, wait_seconds: 5, offset: structured(started).lines_total as number });
    expect(structured(result).lines).toContain("tick");
    expect(Date.now() - before).toBeLessThan(4_000);
    await server.call("stop_execution", { execution_id: executionId });
  });

  it("snapshots the maps of a running trace on request", async () => {
    const started = await server.call("exec_program", { program: "interval:ms:10 { @n = count(); }", timeout: 20 });
    const executionId = structured(started).execution_id as string;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const result = await server.call("get_result", { execution_id: executionId, snapshot_maps: true });
    expect(structured(result).snapshot).toBe("requested");
    const snapshot = structured(result).maps?.find((map) => map.name === "@n");
    expect(snapshot?.origin).toBe("snapshot");
    expect(snapshot?.entries[0]?.value).toBeGreaterThan(0);
    expect(structured(result).status).toBe("running");
    await server.call("stop_execution", { execution_id: executionId });
  });

  it("runs bpftrace at the configured nice value, writing into a pipe the server reads in batches", async () => {
    const marker = `fifo-${process.pid}-${Date.now()}`;
    // 20 lines every millisecond: 20k lines a second, each written by bpftrace on its own.
    const program = `interval:ms:1 { $i = 0; while ($i < 20) { printf("${marker} %d\\n", $i); $i++; } }`;
    const started = await server.call("exec_program", { program, timeout: 2 });
    expect(started.isError, textOf(started)).toBeFalsy();
    const executionId = structured(started).execution_id as string;
    const [pid] = bpftraceProcessesWith(marker);
    expect(pid, "the bpftrace process of this trace").toBeDefined();
    // Field 19 of /proc/PID/stat is the nice value; fields are counted after the ')' that ends the command name.
    // Every thread: as root the server lowers them once bpftrace has attached (it compiles at normal priority).
    const niceOf = (path: string): number => {
      const stat = readFileSync(path, "utf8");
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
    };
    const threads = readdirSync(`/proc/${String(pid)}/task`);
    expect(threads.length).toBeGreaterThan(0);
    expect(threads.map((tid) => niceOf(`/proc/${String(pid)}/task/${tid}/stat`))).toEqual(threads.map(() => 10));
    // Its session's scheduling group too, where the kernel groups by session (autogroup): as root the server sets it.
    if (existsSync(`/proc/${String(pid)}/autogroup`) && readFileSync("/proc/sys/kernel/sched_autogroup_enabled", "utf8").trim() === "1") {
      expect(readFileSync(`/proc/${String(pid)}/autogroup`, "utf8")).toMatch(/ nice 10$/m);
    }
    expect(readlinkSync(`/proc/${String(pid)}/fd/1`)).toMatch(/\/bpftrace-mcp-[^/]+\/out\d+ \(deleted\)$|^pipe:/);
    const ended = await server.call("get_result", { execution_id: executionId, wait_seconds: 10, offset: 1_000_000 });
    expect(structured(ended).status).toBe("timed_out");
    const total = structured(ended).lines_total as number;
    expect(total).toBeGreaterThan(20_000);
    // Every line arrived whole: no line torn or merged where one read of the pipe ended and the next began.
    const texts: string[] = [];
    for (let offset = 0; offset < total; ) {
      const page = structured(await server.call("get_result", { execution_id: executionId, offset, limit: 1000, ...RAW_PAGE }));
      texts.push(...(page.lines ?? []));
      offset = page.next_offset as number;
    }
    const printed = texts.filter((text) => text.startsWith(marker));
    // Every line the ring kept (its last 10,000), each read once.
    const kept = total - (structured(ended).lines_dropped as number);
    expect(printed.length).toBeGreaterThan(kept - 50);
    expect(printed.filter((text) => !new RegExp(`^${marker} (1?[0-9])$`).test(text))).toEqual([]);
  });

  it("refuses a fifth concurrent trace with a clear error", async () => {
    const ids: string[] = [];
    for (let index = 0; index < 4; index += 1) {
      const started = await server.call("exec_program", { program: "interval:s:1 { }", timeout: 30 });
      expect(started.isError, textOf(started)).toBeFalsy();
      ids.push(structured(started).execution_id as string);
    }
    const fifth = await server.call("exec_program", { program: "interval:s:1 { }", timeout: 30 });
    expect(fifth.isError).toBe(true);
    expect(textOf(fifth)).toContain("TOO_MANY_EXECUTIONS");
    for (const id of ids) await server.call("stop_execution", { execution_id: id });
    const listed = await server.call("list_executions");
    expect(structured(listed).running).toBe(0);
  });
});

describeReal("bpftrace processes never outlive the server or their deadline", () => {
  it("client disconnect (stdin closed) ends every running bpftrace", async () => {
    const marker = `disconnect-${process.pid}-${Date.now()}`;
    const server = await startServer();
    const started = await server.call("exec_program", { program: `// ${marker}\ninterval:s:1 { }`, timeout: 60 });
    expect(started.isError, textOf(started)).toBeFalsy();
    expect(bpftraceProcessesWith(marker)).toHaveLength(1);
    await server.close();
    expect(await waitFor(() => bpftraceProcessesWith(marker).length === 0, 3_000)).toBe(true);
  });

  it("a SIGKILLed server leaves no bpftrace past the trace's deadline", async () => {
    const marker = `sigkill-${process.pid}-${Date.now()}`;
    const server = await startServer();
    const started = await server.call("exec_program", { program: `// ${marker}\ninterval:s:1 { }`, timeout: 3 });
    expect(started.isError, textOf(started)).toBeFalsy();
    process.kill(server.pid, "SIGKILL");
    expect(bpftraceProcessesWith(marker)).toHaveLength(1);
    // Deadline 3 s after start, plus the guard's slack and its 100 ms period.
    expect(await waitFor(() => bpftraceProcessesWith(marker).length === 0, 5_000)).toBe(true);
    await server.close().catch(() => undefined);
  });
});
