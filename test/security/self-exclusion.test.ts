// The filter the server adds to every traced probe, both ways it is built: by the server's own
// cgroup (root, the default) and by walking task parents (BPFTRACE_MCP_OWN_CGROUP=off, or no
// writable cgroup). Either way a spy on the server's writes sees the control process, never the server.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cgroup2Mount } from "../../src/bpftrace/own-cgroup.js";
import { describeReal } from "../helpers/real-bpftrace.js";
import { isAlive, startServer, textOf, waitFor, type RunningServer } from "../helpers/server-process.js";
import { bpftraceUnderTestEnv, callAnyway, killServerHard, newMarker, outputOfStarted, spyAround, startControlProcess, strWindows, structuredOf, type ControlProcess } from "./support.js";

const cgroupMount = (): string => cgroup2Mount(readFileSync("/proc/self/mountinfo", "utf8")) ?? "/sys/fs/cgroup";

/** The server's cgroup v2 path, from its /proc entry. */
function cgroupOf(pid: number): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((entry) => entry.startsWith("0::"));
  return line?.slice(3) ?? "";
}

function leavesNamed(pid: number): string[] {
  const found: string[] = [];
  const walk = (directory: string, depth: number): void => {
    if (depth > 6) return;
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      if (entry.name === `bpftrace-mcp-server-${pid}`) found.push(join(directory, entry.name));
      else walk(join(directory, entry.name), depth + 1);
    }
  };
  walk(cgroupMount(), 0);
  return found;
}

for (const mode of ["auto", "off"] as const) {
  describeReal(`self-exclusion with BPFTRACE_MCP_OWN_CGROUP=${mode}: a spy on the server's writes sees the control, never the server`, () => {
    let server: RunningServer;
    let control: ControlProcess;

    beforeAll(async () => {
      server = await startServer({ env: { ...bpftraceUnderTestEnv(), BPFTRACE_MCP_OWN_CGROUP: mode } });
      control = startControlProcess(`exclusion-${mode}`);
    });

    afterAll(async () => {
      control?.stop();
      await server?.close();
    });

    it(mode === "auto" ? "runs the server in a cgroup leaf of its own, and filters by it" : "leaves the server where it was, and filters by task parents", async () => {
      const path = cgroupOf(server.pid);
      if (mode === "auto") expect(path).toMatch(new RegExp(`/bpftrace-mcp-server-${server.pid}$`));
      else expect(path).not.toContain("bpftrace-mcp-server-");
      const log = server.stderr();
      if (mode === "auto") expect(log).toContain("traces exclude this server's own cgroup");
      else expect(log).not.toContain("traces exclude this server's own cgroup");
    });

    it("hides the server's write(2) calls, and the children it runs, from a spy", async () => {
      const marker = newMarker(`exclusion-${mode}`);
      const report = await spyAround(
        server,
        // Any bpftrace's writes only when they start like the marker: other traces on the machine would flood the spy.
        `tracepoint:syscalls:sys_enter_write /pid == ${server.pid} || pid == ${control.pid} || comm == "sudo" || comm == "timeout" || (comm == "bpftrace" && strncmp(str(args->buf), "exclusion-", 10) == 0)/ { $a = (uint64)args->buf; ${strWindows("W", "$a", "args->count")} }`,
        control.control,
        async () => {
          const started = await callAnyway(server, "exec_program", { program: `// ${marker}\nBEGIN { printf("${marker}\\n"); exit(); }`, timeout: 5 });
          expect((await outputOfStarted(server, started)).join("\n")).toContain(marker);
        },
      );
      expect(report.started.isError, textOf(report.started)).toBeFalsy();
      expect(report.sawControl, `the spy never saw the control process: ${report.lines.slice(0, 5).join(" | ")}`).toBe(true);
      expect(report.lines.filter((line) => line.includes(marker))).toEqual([]);
    });
  });
}

describeReal("the server's own cgroup is removed when it exits, and by the next server after a SIGKILL", () => {
  it("removes its leaf on a clean exit", async () => {
    const server = await startServer({ env: bpftraceUnderTestEnv() });
    const pid = server.pid;
    expect(leavesNamed(pid)).toHaveLength(1);
    const started = await server.call("exec_program", { program: 'BEGIN { printf("x\\n"); }', timeout: 30 });
    expect(structuredOf(started).status).toBe("running");
    await server.close();
    expect(await waitFor(() => !isAlive(pid), 5_000)).toBe(true);
    expect(await waitFor(() => leavesNamed(pid).length === 0, 5_000), "the leaf outlived the server").toBe(true);
  });

  it("leaves the leaf of a SIGKILLed server to the next server, which removes it once empty", async () => {
    const killed = await startServer({ env: bpftraceUnderTestEnv() });
    const pid = killed.pid;
    const [leaf] = leavesNamed(pid);
    expect(leaf).toBeDefined();
    await killServerHard(killed);
    expect(await waitFor(() => !isAlive(pid), 5_000)).toBe(true);
    expect(existsSync(leaf ?? "")).toBe(true);
    const next = await startServer({ env: bpftraceUnderTestEnv() });
    try {
      expect(existsSync(leaf ?? "")).toBe(false);
    } finally {
      await next.close();
    }
  });
});

describe("self-exclusion test helpers", () => {
  it("reads a cgroup v2 path from /proc", () => {
    expect(cgroupOf(process.pid)).toMatch(/^\//);
  });
});
