// Figure 1: exec_program → first output line seen by the client, against bpftrace run directly.
import { cgroup2Mount, cgroup2Path } from "../../dist/bpftrace/own-cgroup.js";
import { checkProgram, instrumentProgram } from "../../dist/policy/index.js";
import { readFileSync, statSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { timeToLine } from "./bpftrace-direct.mjs";
import { startServer, structured } from "./mcp-server.mjs";
import { alternate, pairedRatios, summarize } from "./stats.mjs";

const FIRST_LINE = "first";
/**
 * Prints one line as soon as it runs, then stays alive until stopped (or 30 s pass). The traced
 * probe gets the server's self-exclusion filter, so its compile cost is in the figure.
 */
export const START_PROGRAM = `BEGIN { printf("${FIRST_LINE}\\n"); }\ntracepoint:syscalls:sys_enter_getppid { @calls = count(); }\ninterval:s:30 { exit(); }\n`;
const TIMEOUT_SECONDS = 30;
const GUARD_SLACK_MS = 500;

/**
 * The text the server hands bpftrace for START_PROGRAM: filter, attach marker and deadline guard
 * added. `serverPid`'s own cgroup, when it moved into one (as root it does), makes the filter.
 */
export function guardedStartProgram(serverPid = process.pid) {
  const decision = checkProgram(START_PROGRAM, { allow: new Set(), maxBytes: 65536, maxLines: 2000 });
  if (!decision.allowed) throw new Error("the start program was refused by the policy");
  return instrumentProgram(START_PROGRAM, decision, { serverPid, cgroupId: ownCgroupIdOf(serverPid), deadlineMs: TIMEOUT_SECONDS * 1000 + GUARD_SLACK_MS, snapshotProbe: false }).source;
}

/** The id of `pid`'s cgroup when it is a server's own leaf (bpftrace/own-cgroup.ts), else null. */
function ownCgroupIdOf(pid) {
  try {
    const path = cgroup2Path(readFileSync(`/proc/${pid}/cgroup`, "utf8")) ?? "";
    const mount = cgroup2Mount(readFileSync("/proc/self/mountinfo", "utf8"));
    return mount && path.endsWith(`/bpftrace-mcp-server-${pid}`) ? statSync(`${mount}${path}`, { bigint: true }).ino : null;
  } catch {
    return null;
  }
}

async function viaServer(server) {
  const started = performance.now();
  const execution = structured(await server.call("exec_program", { program: START_PROGRAM, timeout: TIMEOUT_SECONDS }));
  let offset = 0;
  let elapsedMs = Number.NaN;
  for (;;) {
    const page = structured(await server.call("get_result", { execution_id: execution.execution_id, offset, wait_seconds: 10 }));
    if (page.lines.some((text, index) => text === FIRST_LINE && !page.stderr.includes(index))) {
      elapsedMs = performance.now() - started;
      break;
    }
    if (page.status !== "running") throw new Error(`the trace ended (${page.status}) without printing '${FIRST_LINE}'`);
    offset = page.next_offset;
  }
  await server.call("stop_execution", { execution_id: execution.execution_id });
  return elapsedMs;
}

/**
 * Alternates: bpftrace run directly with the server's exact program text (guard included), then
 * the server. A third series runs the program without the guard, to show what the guard costs.
 */
export async function measureStartLatency({ runs, bpftraceFile, log }) {
  log(`start latency: ${runs} × (bpftrace direct, server, bpftrace direct without the guard)`);
  // A short kill grace: bpftrace 0.17 can miss a SIGINT sent while it is still attaching (untimed stop).
  const server = await startServer({ env: { BPFTRACE_MCP_KILL_GRACE_MS: "1000" } });
  try {
    // Unmeasured warm-up: the server's one-time readiness check (bpftrace --version) and the page cache.
    await viaServer(server);
    await timeToLine(bpftraceFile, guardedStartProgram(server.pid), FIRST_LINE);
    const unguarded = [];
    const { baseline, subject } = await alternate(
      runs,
      async () => {
        const guarded = await timeToLine(bpftraceFile, guardedStartProgram(server.pid), FIRST_LINE);
        unguarded.push(await timeToLine(bpftraceFile, START_PROGRAM, FIRST_LINE));
        return guarded;
      },
      () => viaServer(server),
    );
    const overheadMs = subject.map((value, index) => value - (baseline[index] ?? Number.NaN));
    // The gate's whole cost: the server against bpftrace running the user's program as written.
    const gateOverheadMs = subject.map((value, index) => value - (unguarded[index] ?? Number.NaN));
    return {
      program: START_PROGRAM,
      baselineMs: summarize(baseline),
      baselineUnguardedMs: summarize(unguarded),
      subjectMs: summarize(subject),
      ratio: summarize(pairedRatios(subject, baseline)),
      overheadMs: summarize(overheadMs),
      gateRatio: summarize(pairedRatios(subject, unguarded)),
      gateOverheadMs: summarize(gateOverheadMs),
      samples: { baseline, unguarded, subject },
    };
  } finally {
    await server.close();
  }
}
