import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AuditRecord } from "../../src/audit/audit-log.js";
import { BpftraceHost } from "../../src/bpftrace/host.js";
import { loadConfig, type Config } from "../../src/config.js";
import { BpftraceMcpError } from "../../src/errors.js";
import { ExecutionRegistry } from "../../src/executions/registry.js";
import { createLogger } from "../../src/logger.js";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { isAlive, waitFor } from "../helpers/server-process.js";

let fakeBpftrace: string;
const registries: ExecutionRegistry[] = [];

beforeAll(() => {
  fakeBpftrace = installFakeBpftrace();
});

afterEach(async () => {
  await Promise.all(registries.splice(0).map((registry) => registry.shutdown(500)));
});

function setup(overrides: Record<string, string> = {}): { registry: ExecutionRegistry; audit: AuditRecord[]; config: Config; logs: () => string } {
  const config = loadConfig({ BPFTRACE_PATH: fakeBpftrace, BPFTRACE_MCP_AUDIT_LOG: "off", BPFTRACE_MCP_KILL_GRACE_MS: "400", ...overrides });
  let logText = "";
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logText += chunk.toString();
      callback();
    },
  });
  const logger = createLogger("debug", sink);
  const audit: AuditRecord[] = [];
  const registry = new ExecutionRegistry({
    config,
    host: new BpftraceHost(config, logger, { geteuid: () => 0 }),
    audit: { write: (record) => (audit.push(record), null) },
    logger,
  });
  registries.push(registry);
  return { registry, audit, config, logs: () => logText };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "resolved";
  } catch (error) {
    if (error instanceof BpftraceMcpError) return error.code;
    throw error;
  }
}

describe("executions against a fake bpftrace", () => {
  it("ends at the deadline with SIGINT, keeps the maps END printed, and calls it timed_out", async () => {
    const { registry, audit } = setup();
    const { execution } = await registry.start("BEGIN { } // fake: lines=3", 1);
    expect(execution.attached).toBe(true);
    expect(execution.attachedProbes).toBe(1);
    await execution.waitForEnd(5_000);
    expect(execution.status).toBe("timed_out");
    expect(execution.signalsSent).toEqual(["SIGINT"]);
    const texts = execution.ring.read(0, 100).lines.map((line) => line.text);
    expect(texts).toEqual(["line 0", "line 1", "line 2", "@calls: 42"]);
    expect(audit.map((record) => record.event)).toEqual(["start", "end"]);
    expect(audit[1]).toMatchObject({ status: "timed_out", lines: 4, signals_sent: ["SIGINT"] });
  });

  it("reports a compile error from start with bpftrace's line and column, and records the failed run", async () => {
    const { registry } = setup();
    const error = await registry.start("BEGIN { oops } // fake: compile-error", 5).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BpftraceMcpError);
    expect((error as BpftraceMcpError).code).toBe("COMPILE_ERROR");
    expect((error as BpftraceMcpError).message).toContain("stdin:1:9-14: ERROR: syntax error");
    expect((error as BpftraceMcpError).message).not.toContain("RLIMIT_MEMLOCK");
    const [failed] = registry.list();
    expect(failed?.status).toBe("failed");
  });

  it("fails an execution that exits before attaching with an unknown code, naming the code", async () => {
    const { registry } = setup();
    const error = (await registry.start("BEGIN { } // fake: exit-before-attach=77", 5).catch((caught: unknown) => caught)) as BpftraceMcpError;
    expect(error.code).toBe("COMPILE_ERROR");
    expect(error.message).toContain("exited with code 77");
  });

  it("fails an execution that exits non-zero after attaching", async () => {
    const { registry } = setup();
    const { execution } = await registry.start("BEGIN { } // fake: exit-after-attach=5", 5);
    await execution.waitForEnd(5_000);
    expect(execution.status).toBe("failed");
    expect(execution.exitCode).toBe(5);
    expect(execution.error).toContain("exited with code 5");
  });

  it("completes an execution that exits 0 by itself", async () => {
    const { registry } = setup();
    const { execution } = await registry.start("BEGIN { } // fake: exit-after-attach=0", 5);
    await execution.waitForEnd(5_000);
    expect(execution.status).toBe("completed");
  });

  it("returns a running execution when attaching takes longer than the wait, and can stop it", async () => {
    const { registry } = setup({ BPFTRACE_MCP_ATTACH_WAIT_MS: "200" });
    const { execution } = await registry.start("BEGIN { } // fake: hang-before-attach", 30);
    expect(execution.finished).toBe(false);
    expect(execution.attached).toBe(false);
    await registry.stop(execution.id);
    expect(execution.status).toBe("stopped");
  });

  it("SIGKILLs a bpftrace that ignores SIGINT after the grace period (root mode)", async () => {
    const { registry } = setup({ BPFTRACE_MCP_KILL_GRACE_MS: "300" });
    const { execution } = await registry.start("BEGIN { } // fake: ignore-sigint", 1);
    await execution.waitForEnd(5_000);
    expect(execution.signalsSent).toEqual(["SIGINT", "SIGKILL"]);
    expect(execution.status).toBe("timed_out");
    expect(execution.exitSignal).toBe("SIGKILL");
  });

  it("sends SIGINT again when bpftrace stays silent after losing the first one", async () => {
    const { registry } = setup({ BPFTRACE_MCP_KILL_GRACE_MS: "5000" });
    const { execution } = await registry.start("BEGIN { } // fake: lose-sigint=1", 30);
    const stopped = await registry.stop(execution.id);
    expect(stopped.signalsSent).toEqual(["SIGINT", "SIGINT"]);
    expect(stopped.status).toBe("stopped");
    expect(stopped.ring.read(0, 10).lines.map((line) => line.text)).toContain("@calls: 42");
  });

  it("does not repeat SIGINT while bpftrace is printing its maps", async () => {
    const { registry } = setup({ BPFTRACE_MCP_KILL_GRACE_MS: "5000" });
    const { execution } = await registry.start("BEGIN { } // fake: end-delay-ms=1500 tick-ms=100", 30);
    const stopped = await registry.stop(execution.id);
    expect(stopped.status).toBe("stopped");
    expect(stopped.signalsSent).toEqual(["SIGINT"]);
  });

  it("stops early on request and keeps the output, maps included", async () => {
    const { registry } = setup();
    const { execution } = await registry.start("BEGIN { } // fake: lines=2", 30);
    const stopped = await registry.stop(execution.id);
    expect(stopped.status).toBe("stopped");
    expect(stopped.durationMs(Date.now())).toBeLessThan(5_000);
    expect(stopped.ring.read(0, 10).lines.map((line) => line.text)).toContain("@calls: 42");
  });

  it("asks a running trace for a map snapshot with SIGUSR1", async () => {
    const { registry } = setup();
    const { execution } = await registry.start("BEGIN { }", 30);
    expect(registry.snapshot(execution.id)).toBe(true);
    await execution.waitForOutput(0, 2_000);
    expect(execution.ring.read(0, 10).lines.map((line) => line.text)).toContain("@snapshot: 7");
  });

  it("keeps stdout and stderr apart and survives a stderr flood", async () => {
    const { registry } = setup({ BPFTRACE_MCP_RING_LINES: "100" });
    const { execution } = await registry.start("BEGIN { } // fake: stderr-flood=5000", 2);
    await execution.waitForEnd(10_000);
    expect(execution.status).toBe("timed_out");
    expect(execution.ring.linesTotal).toBe(5001);
    expect(execution.ring.linesDropped).toBe(4901);
    const last = execution.ring.read(execution.ring.linesTotal - 2, 2).lines;
    expect(last.map((line) => line.stream)).toEqual(["stderr", "stdout"]);
  });

  it("cuts an over-long output line and counts it", async () => {
    const { registry } = setup({ BPFTRACE_MCP_MAX_LINE_CHARS: "1000" });
    const { execution } = await registry.start("BEGIN { } // fake: long-line=200000", 1);
    await execution.waitForEnd(5_000);
    expect(execution.truncatedLines).toBe(1);
    expect(execution.ring.read(0, 1).lines[0]?.text).toHaveLength(1000);
  });

  it("marks a bpftrace killed from outside as failed, naming the signal", async () => {
    const { registry } = setup();
    const pidFile = join(mkdtempSync(join(tmpdir(), "pid-")), "pid");
    const { execution } = await registry.start(`BEGIN { } // fake: pidfile=${pidFile}`, 30);
    const pid = Number(readFileSync(pidFile, "utf8"));
    process.kill(pid, "SIGKILL");
    await execution.waitForEnd(5_000);
    expect(execution.status).toBe("failed");
    expect(execution.error).toContain("killed by SIGKILL");
    expect(await waitFor(() => !isAlive(pid), 2_000)).toBe(true);
  });

  it("compiles and attaches at normal priority, and lowers every thread to BPFTRACE_MCP_NICE once attached (as root)", async () => {
    const { registry } = setup({ BPFTRACE_MCP_NICE: "7", BPFTRACE_MCP_ATTACH_WAIT_MS: "300" });
    const niceOfThreads = (pid: number): number[] =>
      readdirSync(`/proc/${pid}/task`).map((tid) => {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
      });
    const attaching = join(mkdtempSync(join(tmpdir(), "pid-")), "pid");
    const hanging = await registry.start(`BEGIN { } // fake: pidfile=${attaching} // fake: hang-before-attach`, 30);
    expect(hanging.execution.attached).toBe(false);
    expect(await waitFor(() => existsSync(attaching) && readFileSync(attaching, "utf8") !== "", 5_000)).toBe(true);
    expect(new Set(niceOfThreads(Number(readFileSync(attaching, "utf8"))))).toEqual(new Set([0]));
    await registry.stop(hanging.execution.id);
    const attachedFile = join(mkdtempSync(join(tmpdir(), "pid-")), "pid");
    const running = await registry.start(`BEGIN { } // fake: pidfile=${attachedFile}`, 30);
    // start() waits 300 ms for the attach; a loaded machine can take longer to start the fake.
    expect(await waitFor(() => running.execution.attached, 5_000)).toBe(true);
    expect(new Set(niceOfThreads(Number(readFileSync(attachedFile, "utf8"))))).toEqual(new Set([7]));
    await registry.stop(running.execution.id);
  });

  it("answers past the concurrency limit with TOO_MANY_EXECUTIONS, and accepts again once one ends", async () => {
    const { registry } = setup({ BPFTRACE_MCP_MAX_CONCURRENT: "2" });
    const first = await registry.start("BEGIN { }", 30);
    await registry.start("BEGIN { }", 30);
    expect(await codeOf(registry.start("BEGIN { }", 30))).toBe("TOO_MANY_EXECUTIONS");
    await registry.stop(first.execution.id);
    expect(await codeOf(registry.start("BEGIN { }", 30))).toBe("resolved");
  });

  it("never exceeds the limit when many starts race", async () => {
    const { registry } = setup({ BPFTRACE_MCP_MAX_CONCURRENT: "3" });
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => codeOf(registry.start("BEGIN { }", 30))));
    expect(outcomes.filter((outcome) => outcome === "resolved")).toHaveLength(3);
    expect(outcomes.filter((outcome) => outcome === "TOO_MANY_EXECUTIONS")).toHaveLength(9);
  });

  it("rejects unknown and malformed ids with UNKNOWN_EXECUTION", () => {
    const { registry } = setup();
    expect(() => registry.get("ex-000000000000")).toThrow(expect.objectContaining({ code: "UNKNOWN_EXECUTION" }));
    expect(() => registry.get("../../etc/passwd")).toThrow(expect.objectContaining({ code: "UNKNOWN_EXECUTION" }));
  });

  it("forgets finished executions after the retention period", async () => {
    let now = Date.now();
    const config = loadConfig({ BPFTRACE_PATH: fakeBpftrace, BPFTRACE_MCP_AUDIT_LOG: "off", BPFTRACE_MCP_RETENTION_SECONDS: "60" });
    const logger = createLogger("silent");
    const registry = new ExecutionRegistry({ config, host: new BpftraceHost(config, logger, { geteuid: () => 0 }), audit: { write: () => null }, logger, now: () => now });
    registries.push(registry);
    const { execution } = await registry.start("BEGIN { } // fake: exit-after-attach=0", 5);
    await execution.waitForEnd(5_000);
    expect(registry.sweep()).toBe(0);
    now += 61_000;
    expect(registry.sweep()).toBe(1);
    expect(() => registry.get(execution.id)).toThrow(expect.objectContaining({ code: "UNKNOWN_EXECUTION" }));
  });

  it("wakes a long-poll as soon as new output arrives", async () => {
    const { registry } = setup();
    const { execution } = await registry.start("BEGIN { } // fake: tick-ms=300", 10);
    const before = execution.ring.linesTotal;
    const started = Date.now();
    await execution.waitForOutput(before, 5_000);
    expect(execution.ring.linesTotal).toBeGreaterThan(before);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("keeps a long-poll waiting while new output is still before the requested offset", async () => {
    const { registry } = setup();
    const { execution } = await registry.start("BEGIN { } // fake: tick-ms=50", 10);
    const started = Date.now();
    await execution.waitForOutput(execution.ring.linesTotal + 1_000_000, 600);
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect(execution.ring.linesTotal).toBeGreaterThan(1);
  });

  it("stops every trace on shutdown", async () => {
    const { registry } = setup();
    const runs = await Promise.all([registry.start("BEGIN { }", 30), registry.start("BEGIN { }", 30)]);
    await registry.shutdown(2_000);
    expect(runs.map((run) => run.execution.status)).toEqual(["stopped", "stopped"]);
    expect(await codeOf(registry.start("BEGIN { }", 30))).toBe("SHUTTING_DOWN");
  });

  it("refuses a banned program before spawning anything, and audits the refusal", async () => {
    const { registry, audit } = setup();
    expect(await codeOf(registry.start('BEGIN { cat("/etc/shadow"); }', 5))).toBe("POLICY_REFUSED");
    expect(registry.list()).toHaveLength(0);
    expect(audit).toEqual([expect.objectContaining({ event: "refused", decision: "refused", program: 'BEGIN { cat("/etc/shadow"); }' })]);
  });

  it("reports BPFTRACE_NOT_FOUND when the binary is missing", async () => {
    const { registry } = setup({ BPFTRACE_PATH: "/nonexistent/bpftrace" });
    expect(await codeOf(registry.start("BEGIN { }", 5))).toBe("BPFTRACE_NOT_FOUND");
  });
});
