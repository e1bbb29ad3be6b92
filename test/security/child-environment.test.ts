// What the root bpftrace inherits from the server: nothing of its environment but PATH, the C locale
// and the BPFTRACE_* variables the operator listed; cwd /; stdin /dev/null in root mode.
import { randomBytes } from "node:crypto";
import { readFileSync, readlinkSync, statSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { bpftraceProcessesWith } from "../helpers/processes.js";
import { describeReal, realBpftrace } from "../helpers/real-bpftrace.js";
import { startServer, textOf, type RunningServer } from "../helpers/server-process.js";
import { newMarker, structuredOf } from "./support.js";
import { pageLines } from "../helpers/output-lines.js";

function environOf(pid: number): Map<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter((entry) => entry.length > 0);
  return new Map(entries.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]));
}

describeReal("bpftrace's environment, working directory and stdin", () => {
  const secretValue = `env-secret-${randomBytes(12).toString("hex")}`;
  const marker = newMarker("child-env");
  let server: RunningServer;
  let executionId: string;
  let bpftracePid: number;

  beforeAll(async () => {
    server = await startServer({
      env: {
        // Each would change what bpftrace does if it leaked: 999 is over bpftrace's own limit and makes it refuse to run.
        BPFTRACE_STRLEN: "999",
        LD_PRELOAD: "/nonexistent.so",
        SECRET_TOKEN: secretValue,
        // A variable every release under test reads under this name (0.23 warns that BPFTRACE_MAP_KEYS_MAX is deprecated).
        BPFTRACE_MCP_CHILD_ENV: "BPFTRACE_PERF_RB_PAGES=128",
      },
    });
    const started = await server.call("exec_program", { program: `// ${marker}\ninterval:ms:200 { printf("tick\\n"); }`, timeout: 30 });
    if (started.isError) throw new Error(textOf(started));
    executionId = structuredOf(started).execution_id as string;
    const pids = bpftraceProcessesWith(marker);
    if (pids.length !== 1) throw new Error(`expected one bpftrace with ${marker}, found ${pids.length}`);
    bpftracePid = pids[0] as number;
  });

  afterAll(async () => {
    if (executionId) await server.call("stop_execution", { execution_id: executionId });
    await server?.close();
  });

  it("passes only PATH, the C locale and the operator's BPFTRACE_MCP_CHILD_ENV", () => {
    const environ = environOf(bpftracePid);
    expect([...environ.keys()].sort()).toEqual(["BPFTRACE_PERF_RB_PAGES", "LANG", "LC_ALL", "PATH"]);
    expect(environ.get("BPFTRACE_PERF_RB_PAGES")).toBe("128");
    expect(environ.get("PATH")).toBe("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    expect(environ.get("LC_ALL")).toBe("C");
  });

  it("keeps the server's BPFTRACE_STRLEN, LD_PRELOAD and secrets away from bpftrace", () => {
    const raw = readFileSync(`/proc/${bpftracePid}/environ`, "utf8");
    expect(raw).not.toContain("BPFTRACE_STRLEN");
    expect(raw).not.toContain("LD_PRELOAD");
    expect(raw).not.toContain("nonexistent.so");
    expect(raw).not.toContain(secretValue);
    expect(readFileSync(`/proc/${bpftracePid}/cmdline`, "utf8")).not.toContain(secretValue);
    // The server itself did receive them: the test really planted them.
    expect(readFileSync(`/proc/${server.pid}/environ`, "utf8")).toContain(secretValue);
  });

  it("runs in / with stdin on /dev/null and output on anonymous pipes to the server", () => {
    // The "/" bpftrace sees: for CI's chroot wrappers, seen from here, the chroot's directory.
    expect(readlinkSync(`/proc/${bpftracePid}/cwd`)).toBe(realBpftrace().root);
    expect(readlinkSync(`/proc/${bpftracePid}/fd/0`)).toBe("/dev/null");
    // stdout is a FIFO whose name was removed as soon as both ends were open: no one else can open it.
    expect(readlinkSync(`/proc/${bpftracePid}/fd/1`)).toMatch(/^\/.*\/bpftrace-mcp-[^/]+\/out\d+ \(deleted\)$/);
    expect(statSync(`/proc/${bpftracePid}/fd/1`).isFIFO()).toBe(true);
    // stderr: libuv makes stdio "pipes" from socketpairs; either way an anonymous channel, never a terminal.
    expect(readlinkSync(`/proc/${bpftracePid}/fd/2`)).toMatch(/^(?:pipe|socket):\[\d+\]$/);
  });

  it("runs in its own session, so a terminal's ^C or hangup cannot reach it", () => {
    const stat = readFileSync(`/proc/${bpftracePid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields after the name: state, ppid, pgrp, session, tty_nr. The session is its watchdog's
    // (timeout(1), the server's direct child and bpftrace's parent), not the server's.
    const watchdogPid = Number(fields[1]);
    expect(readFileSync(`/proc/${watchdogPid}/comm`, "utf8").trim()).toBe("timeout");
    expect(Number(fields[3])).toBe(watchdogPid);
    expect(Number(fields[3])).not.toBe(server.pid);
    expect(Number(fields[4])).toBe(0);
  });

  it("still traces (so BPFTRACE_STRLEN=999 really did not reach it)", async () => {
    // stdout only, page by page: bpftrace may first warn on stderr (0.27: available_filter_functions).
    const stdout: string[] = [];
    let offset = 0;
    let status = "";
    const deadline = Date.now() + 10_000;
    while (!stdout.includes("tick") && Date.now() < deadline) {
      const page = structuredOf(await server.call("get_result", { execution_id: executionId, offset, wait_seconds: 2 }));
      status = String(page.status);
      offset = page.next_offset as number;
      stdout.push(...pageLines(page).filter((line) => line.stream === "stdout").map((line) => line.text));
      if (status !== "running") break;
    }
    expect(status).toBe("running");
    expect(stdout).toContain("tick");
  });
});
