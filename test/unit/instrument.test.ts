import { describe, expect, it } from "vitest";
import { checkProgram, inUserTerms, instrumentProgram, selfExclusion, type PolicyOptions, type ProcessFilter } from "../../src/policy/index.js";

const OPTIONS: PolicyOptions = { allow: new Set(), maxBytes: 65536, maxLines: 2000, canRead: () => true };
const SERVER_PID = 4242;

function instrument(program: string, snapshotProbe = false, processFilter?: ProcessFilter) {
  const decision = checkProgram(program, OPTIONS);
  expect(decision.allowed, JSON.stringify(decision.violations)).toBe(true);
  return instrumentProgram(program, decision, { serverPid: SERVER_PID, deadlineMs: 10_500, snapshotProbe, ...(processFilter ? { processFilter } : {}) });
}

describe("instrumentProgram: what the server adds to a program", () => {
  const filter = selfExclusion(SERVER_PID);

  it("excludes the server's tree by pid and six parents", () => {
    expect(filter.startsWith(`pid != ${SERVER_PID} && curtask->real_parent->tgid != ${SERVER_PID}`)).toBe(true);
    expect(filter.split("&&")).toHaveLength(7);
    expect(filter).toContain("curtask->real_parent->real_parent->real_parent->real_parent->real_parent->real_parent->tgid");
    expect(() => selfExclusion(0)).toThrow();
  });

  it("excludes the server's own cgroup with one comparison when the server has one", () => {
    expect(selfExclusion(SERVER_PID, 9_876_543_210n)).toBe("cgroup != 9876543210");
    expect(() => selfExclusion(SERVER_PID, 1n)).toThrow();
    const decision = checkProgram("tracepoint:syscalls:sys_enter_openat /comm == \"x\"/ { @ = count(); }\n", OPTIONS);
    const { source } = instrumentProgram("tracepoint:syscalls:sys_enter_openat /comm == \"x\"/ { @ = count(); }\n", decision, { serverPid: SERVER_PID, cgroupId: 77n, deadlineMs: 10_500, snapshotProbe: false });
    expect(source.split("\n")[0]).toBe('tracepoint:syscalls:sys_enter_openat /(cgroup != 77) && ((uint64)(comm == "x"))/ { @ = count(); }');
    expect(source).not.toContain("curtask");
  });

  it("puts the filter in front of a traced probe's own predicate, and gives one to a probe without", () => {
    const program = "tracepoint:syscalls:sys_enter_openat /comm == \"x\"/ { @[comm] = count(); }\nkprobe:vfs_read, kprobe:vfs_write { @ = count(); }\n";
    const { source } = instrument(program);
    const lines = source.split("\n");
    expect(lines[0]).toBe(`tracepoint:syscalls:sys_enter_openat /(${filter}) && ((uint64)(comm == "x"))/ { @[comm] = count(); }`);
    expect(lines[1]).toBe(`kprobe:vfs_read, kprobe:vfs_write  /${filter}/ { @ = count(); }`);
    expect(instrument("kprobe:vfs_read{ @ = count(); }\n").source).toContain(`kprobe:vfs_read /${filter}/ {`);
  });

  it("leaves BEGIN, END, self and interval probes unfiltered", () => {
    const program = "BEGIN { @s = 1; }\ninterval:s:1 { print(@s); }\nEND { clear(@s); }\nself:signal:SIGUSR1 { print(@s); }\n";
    const { source } = instrument(program);
    expect(source).not.toContain("real_parent");
  });

  it("marks attach in the user's BEGIN, or in a BEGIN of its own, and keeps the user's line numbers", () => {
    const withBegin = instrument("BEGIN {\n  printf(\"hi\\n\");\n}\ntracepoint:sched:sched_switch { @ = count(); }\n");
    expect(withBegin.source.split("\n")[0]).toBe(`BEGIN { printf("${withBegin.attachMarker}\\n"); `);
    expect(withBegin.source.split("\n")[1]).toBe('  printf("hi\\n");');
    // The guard, and the END that marks where END's output and bpftrace's maps at exit begin.
    expect(withBegin.addedProbes).toBe(2);
    const without = instrument("tracepoint:sched:sched_switch { @ = count(); }\n");
    expect(without.attachMarker).toMatch(/^__bpftrace_mcp_attached_[0-9a-f]{16}$/);
    expect(without.source).toContain(`BEGIN { printf("${without.attachMarker}\\n"); }`);
    expect(without.addedProbes).toBe(3);
    expect(instrument("tracepoint:sched:sched_switch { @ = count(); }\n").attachMarker).not.toBe(without.attachMarker);
  });

  it("appends the deadline guard", () => {
    expect(instrument("BEGIN { }\n").source).toContain("interval:ms:100 { if (elapsed >= 10500000000) { exit(); } }");
  });

  it("adds a snapshot probe that prints every map between two markers on bpftrace 0.22+", () => {
    const added = instrument("tracepoint:sched:sched_switch { @switches[comm] = count(); @ = count(); }\n", true);
    expect(added.snapshotMarkers).not.toBeNull();
    expect(added.source).toContain(`self:signal:SIGUSR1 { printf("${added.snapshotMarkers?.begin}\\n"); print(@switches); print(@); printf("${added.snapshotMarkers?.end}\\n"); }`);
    expect(added.addedProbes).toBe(4);
    const own = instrument("tracepoint:sched:sched_switch { @ = count(); }\nself:signal:SIGUSR1 { print(@); }\n", true);
    expect(own.snapshotMarkers).toBeNull();
  });

  it("marks the start of END and the maps bpftrace prints at exit with an END of its own", () => {
    const { source, endMarkers, addedProbes } = instrument("tracepoint:sched:sched_switch { @ = count(); }\n");
    expect(endMarkers?.begin).toMatch(/^__bpftrace_mcp_end_[0-9a-f]{16}$/);
    expect(endMarkers?.dump).toMatch(/^__bpftrace_mcp_exit_maps_[0-9a-f]{16}$/);
    expect(source.trimEnd().split("\n").at(-1)).toBe(`END { printf("${endMarkers?.begin}\\n"); printf("${endMarkers?.dump}\\n"); }`);
    expect(addedProbes).toBe(3);
  });

  it("puts the END markers first and last in the user's own END (0.17-0.23 allow one END), keeping its line numbers", () => {
    const program = "tracepoint:sched:sched_switch { @ = count(); }\nEND\n{\n  print(@, 3);\n  clear(@);\n}\n";
    const { source, endMarkers, addedProbes } = instrument(program);
    const lines = source.split("\n");
    expect(lines[2]).toBe(`{ printf("${endMarkers?.begin}\\n"); `);
    expect(lines[3]).toBe("  print(@, 3);");
    expect(lines[5]).toBe(` printf("${endMarkers?.dump}\\n"); }`);
    expect(source.match(/\bEND\b/g)).toHaveLength(1);
    expect(addedProbes).toBe(2);
  });

  it("adds no END markers when END shares its block with another probe or has a predicate", () => {
    expect(instrument("BEGIN, END { printf(\"x\\n\"); }\n").endMarkers).toBeNull();
    expect(instrument("END /1/ { printf(\"x\\n\"); }\n").endMarkers).toBeNull();
  });

  it("filters every traced probe on the process a library example is run for, and refuses a bad pid or name", () => {
    const { source } = instrument("tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }\ninterval:s:1 { }\n", false, { pid: 1234, comm: "nginx: worker" });
    expect(source.split("\n")[0]).toBe(`tracepoint:syscalls:sys_enter_openat  /${filter} && pid == 1234 && comm == "nginx: worker"/ { @[comm] = count(); }`);
    expect(source.split("\n")[1]).toBe("interval:s:1 { }");
    expect(() => instrument("kprobe:f { }\n", false, { comm: 'x" || 1 || "' })).toThrow(/invalid command name/);
    expect(() => instrument("kprobe:f { }\n", false, { pid: -1 })).toThrow(/invalid pid/);
  });

  it("quotes the user's own line in bpftrace's errors, not the filtered one", () => {
    const program = "tracepoint:nope:nope { }\n";
    const { source } = instrument(program);
    const message = `stdin:1:1-21: ERROR: No matches for tracepoint nope:nope.\n${source.split("\n")[0] ?? ""}\n~~~~~~~~~~~~~~~~~~~~`;
    expect(inUserTerms(message, source, program)).toBe("stdin:1:1-21: ERROR: No matches for tracepoint nope:nope.\ntracepoint:nope:nope { }");
  });
});
