import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { installSharedFakeBpftrace, nonExecutableCopyOf, startServerAsNobody } from "../helpers/fault-fixtures.js";
import { childrenOf, openFdCount, openFds, zombieChildrenOf } from "../helpers/proc-stats.js";
import { isAlive, startServer, textOf, waitFor, type RunningServer } from "../helpers/server-process.js";

interface Summary {
  execution_id: string;
  status: string;
  error: string | null;
  exit_code: number | null;
  exit_signal: string | null;
  attached_probes: number | null;
  lines_total: number;
  lines_dropped: number;
}

// Long enough for the fake (a node process) to start on a busy machine; the attach tests wait it out.
const ATTACH_WAIT_MS = 2_000;
const KILL_GRACE_MS = 500;
const RING_LINES = 1_000;

/** Follows an execution with get_result until bpftrace has exited; returns its final summary. */
async function waitForEnd(server: RunningServer, executionId: string, timeoutMs = 20_000): Promise<Summary> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // An offset past any output makes wait_seconds wait for the end (or the next chunk).
    const result = await server.call("get_result", { execution_id: executionId, offset: Number.MAX_SAFE_INTEGER, wait_seconds: 2 });
    const summary = result.structuredContent as unknown as Summary;
    if (summary.status !== "running") return summary;
    if (Date.now() > deadline) throw new Error(`${executionId} still running after ${timeoutMs} ms`);
  }
}

describe("bpftrace misbehaving under the built server (fake bpftrace)", () => {
  let server: RunningServer;
  let fake: string;
  let baselineFds: string[];
  const scratch = mkdtempSync(join(tmpdir(), "bpftrace-faults-"));

  /** No child left (not even a zombie), the fd count back to the baseline, and a new trace runs. */
  async function expectCleanAndWorking(): Promise<void> {
    expect(await waitFor(() => childrenOf(server.pid).length === 0, 5_000), JSON.stringify(childrenOf(server.pid))).toBe(true);
    expect(zombieChildrenOf(server.pid)).toEqual([]);
    const settled = await waitFor(() => openFdCount(server.pid) === baselineFds.length, 3_000);
    expect(settled ? baselineFds : openFds(server.pid), "open fds after the fault").toEqual(baselineFds);
    const started = await server.call("exec_program", { program: "BEGIN { } // fake: exit-after-attach=0", timeout: 5 });
    expect(started.isError, textOf(started)).toBeFalsy();
    expect((await waitForEnd(server, (started.structuredContent as unknown as Summary).execution_id)).status).toBe("completed");
    expect(await waitFor(() => openFdCount(server.pid) === baselineFds.length && childrenOf(server.pid).length === 0, 3_000)).toBe(true);
    expect(isAlive(server.pid)).toBe(true);
  }

  beforeAll(async () => {
    fake = installFakeBpftrace();
    server = await startServer({
      env: {
        BPFTRACE_PATH: fake,
        BPFTRACE_MCP_ATTACH_WAIT_MS: String(ATTACH_WAIT_MS),
        BPFTRACE_MCP_KILL_GRACE_MS: String(KILL_GRACE_MS),
        BPFTRACE_MCP_RING_LINES: String(RING_LINES),
      },
    });
    // One full run first, so whatever Node opens lazily for child processes is in the baseline.
    const warmUp = await server.call("exec_program", { program: "BEGIN { } // fake: exit-after-attach=0", timeout: 5 });
    await waitForEnd(server, (warmUp.structuredContent as unknown as Summary).execution_id);
    await waitFor(() => childrenOf(server.pid).length === 0, 5_000);
    baselineFds = openFds(server.pid);
  });

  afterAll(async () => {
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
    rmSync(dirname(fake), { recursive: true, force: true });
  });

  it("fails a trace whose bpftrace is SIGKILLed from outside, naming the signal", async () => {
    const pidFile = join(scratch, "killed.pid");
    const started = await server.call("exec_program", { program: `BEGIN { } // fake: pidfile=${pidFile}`, timeout: 30 });
    const executionId = (started.structuredContent as unknown as Summary).execution_id;
    // On a loaded machine the fake may attach only after exec_program returned (ATTACH_WAIT_MS): wait for it.
    expect(await waitFor(async () => ((await server.call("get_result", { execution_id: executionId })).structuredContent as unknown as Summary).attached_probes === 1, 10_000)).toBe(true);
    expect(await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, "utf8") !== "", 5_000)).toBe(true);
    process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL");
    const ended = await waitForEnd(server, executionId);
    expect(ended).toMatchObject({ status: "failed", exit_code: null, exit_signal: "SIGKILL", error: "bpftrace was killed by SIGKILL" });
    await expectCleanAndWorking();
  });

  it("returns a still-attaching trace after BPFTRACE_MCP_ATTACH_WAIT_MS and fails it once the attach allowance passes, saying it never attached", async () => {
    const askedAt = Date.now();
    const started = await server.call("exec_program", { program: "BEGIN { } // fake: hang-before-attach", timeout: 1 });
    expect(Date.now() - askedAt).toBeLessThan(ATTACH_WAIT_MS + 2_000);
    expect(started.structuredContent).toMatchObject({ status: "running", attached_probes: null });
    expect(textOf(started)).toContain("Still attaching.");
    const ended = await waitForEnd(server, (started.structuredContent as unknown as Summary).execution_id);
    expect(ended.status).toBe("failed");
    // The trace's own timeout counts from attaching; compiling and attaching may take ATTACH_WAIT_MS + timeout.
    expect(ended.error).toMatch(/^bpftrace had not attached its probes after [3-5] s$/);
    await expectCleanAndWorking();
  });

  it("forces a hung, SIGINT-deaf bpftrace with SIGKILL after the grace period and fails it", async () => {
    const started = await server.call("exec_program", { program: "BEGIN { } // fake: hang-before-attach // fake: ignore-sigint", timeout: 1 });
    const ended = await waitForEnd(server, (started.structuredContent as unknown as Summary).execution_id);
    expect(ended).toMatchObject({ status: "failed", exit_signal: "SIGKILL" });
    expect(ended.error).toMatch(/^bpftrace had not attached its probes after [3-5] s/);
    await expectCleanAndWorking();
  });

  it("keeps answering through a 20 MB stderr flood, keeps only the ring's worth, and fails the run with its exit code", async () => {
    const started = await server.call("exec_program", { program: "BEGIN { } // fake: stderr-flood=20000 // fake: exit-after-attach=3", timeout: 30 });
    const executionId = (started.structuredContent as unknown as Summary).execution_id;
    const pingedAt = Date.now();
    await server.client.ping();
    expect(Date.now() - pingedAt).toBeLessThan(2_000);
    const ended = await waitForEnd(server, executionId);
    expect(ended).toMatchObject({ status: "failed", exit_code: 3, lines_total: 20_000, lines_dropped: 20_000 - RING_LINES });
    expect(ended.error).toMatch(/^bpftrace exited with code 3: W{1023}/);
    // The error repeats in every get_result and list_executions: it must stay a message, not a dump.
    expect(ended.error?.length ?? 0).toBeLessThanOrEqual(4_096);
    const page = await server.call("get_result", { execution_id: executionId, limit: 5 });
    expect(page.structuredContent).toMatchObject({ offset: 20_000 - RING_LINES, skipped: 20_000 - RING_LINES });
    await expectCleanAndWorking();
  });

  it("reports a bpftrace that exits at once with an unknown code as a start failure naming the code", async () => {
    const started = await server.call("exec_program", { program: "BEGIN { } // fake: exit-before-attach=77", timeout: 5 });
    expect(started.isError).toBe(true);
    expect(textOf(started)).toMatch(/^COMPILE_ERROR: bpftrace could not run the program \(execution ex-[0-9a-f]{12}\):\nbpftrace exited with code 77\nFix: /);
    const executionId = /\(execution (ex-[0-9a-f]{12})\)/.exec(textOf(started))?.[1] ?? "";
    const listed = (await server.call("list_executions")).structuredContent as { executions: Summary[] };
    expect(listed.executions.find((execution) => execution.execution_id === executionId)).toMatchObject({ status: "failed", exit_code: 77 });
    await expectCleanAndWorking();
  });

  it("fails a trace cleanly when the bpftrace binary disappears or loses its exec bit after the server checked it", async () => {
    const moved = `${fake}.moved`;
    renameSync(fake, moved);
    try {
      const missing = await server.call("exec_program", { program: "BEGIN { }", timeout: 5 });
      expect(missing.isError).toBe(true);
      expect(textOf(missing)).toMatch(/^COMPILE_ERROR: bpftrace could not run the program \(execution ex-[0-9a-f]{12}\):\nbpftrace could not be started: .*(?:ENOENT|No such file or directory)/);
      copyFileSync(moved, fake);
      chmodSync(fake, 0o644);
      const notExecutable = await server.call("exec_program", { program: "BEGIN { }", timeout: 5 });
      expect(notExecutable.isError).toBe(true);
      expect(textOf(notExecutable)).toMatch(/bpftrace could not be started: .*(?:EACCES|Permission denied)/);
    } finally {
      renameSync(moved, fake);
      chmodSync(fake, 0o755);
    }
    await expectCleanAndWorking();
  });
});

describe("bpftrace that cannot be run at all (fake bpftrace)", () => {
  it("answers BPFTRACE_NOT_FOUND for a missing binary, every time, and stays up", async () => {
    const server = await startServer({ env: { BPFTRACE_PATH: "/nonexistent/bin/bpftrace" } });
    try {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const result = await server.call("exec_program", { program: "BEGIN { }" });
        expect(result.isError).toBe(true);
        expect(textOf(result)).toMatch(/^BPFTRACE_NOT_FOUND: bpftrace was not found \(BPFTRACE_PATH=\/nonexistent\/bin\/bpftrace\)\.\nFix: Install it .* or set BPFTRACE_PATH/);
      }
      expect((await server.call("list_examples", { query: "open" })).isError).toBeFalsy();
      expect(childrenOf(server.pid)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it("answers BPFTRACE_NOT_FOUND for a binary without an exec bit and stays up", async () => {
    const fake = installFakeBpftrace();
    const notExecutable = nonExecutableCopyOf(fake);
    const server = await startServer({ env: { BPFTRACE_PATH: notExecutable } });
    try {
      const result = await server.call("list_probes", { filter: "tracepoint:sched:*" });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/^BPFTRACE_NOT_FOUND: bpftrace was not found \(BPFTRACE_PATH=\/.*\/bpftrace\)/);
      expect(isAlive(server.pid)).toBe(true);
    } finally {
      await server.close();
      rmSync(dirname(fake), { recursive: true, force: true });
      rmSync(dirname(notExecutable), { recursive: true, force: true });
    }
  });
});

describe("an unprivileged server without a sudoers rule (setpriv to nobody)", () => {
  let fake: string;
  beforeAll(() => {
    fake = installSharedFakeBpftrace();
  });
  afterAll(() => {
    rmSync(dirname(fake), { recursive: true, force: true });
  });

  it("answers SUDO_PASSWORD_REQUIRED when sudo wants a password and none is configured, without leaking", async () => {
    const server = await startServerAsNobody({ BPFTRACE_PATH: fake });
    try {
      const first = await server.call("exec_program", { program: "BEGIN { }", timeout: 5 });
      expect(first.isError).toBe(true);
      expect(textOf(first)).toMatch(/^SUDO_PASSWORD_REQUIRED: sudo needs a password for user nobody and BPFTRACE_PASSWD is not set\.\nFix: Set BPFTRACE_PASSWD in a 0600 \.env file, or add a NOPASSWD sudoers rule/);
      await waitFor(() => childrenOf(server.pid).length === 0, 5_000);
      const fds = openFdCount(server.pid);
      for (let attempt = 0; attempt < 3; attempt += 1) {
        expect(textOf(await server.call("list_probes", { filter: "tracepoint:sched:*" }))).toMatch(/^SUDO_PASSWORD_REQUIRED/);
      }
      expect(await waitFor(() => childrenOf(server.pid).length === 0, 5_000)).toBe(true);
      expect(openFdCount(server.pid)).toBe(fds);
      expect(isAlive(server.pid)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it("answers SUDO_REJECTED for a wrong BPFTRACE_PASSWD, and does not retry it", async () => {
    const server = await startServerAsNobody({ BPFTRACE_PATH: fake, BPFTRACE_PASSWD: "not-the-password" });
    try {
      const first = await server.call("exec_program", { program: "BEGIN { }", timeout: 5 });
      expect(textOf(first)).toMatch(/^SUDO_REJECTED: sudo rejected BPFTRACE_PASSWD for user nobody\.\nFix: Correct BPFTRACE_PASSWD/);
      const askedAt = Date.now();
      const second = await server.call("exec_program", { program: "BEGIN { }", timeout: 5 });
      expect(textOf(second)).toMatch(/^SUDO_REJECTED/);
      // Not retried: sudo takes seconds to refuse a password; a remembered verdict is immediate.
      expect(Date.now() - askedAt).toBeLessThan(500);
      expect(server.stderr()).not.toContain("not-the-password");
      expect(zombieChildrenOf(server.pid)).toEqual([]);
      expect(isAlive(server.pid)).toBe(true);
    } finally {
      await server.close();
    }
  });
});
