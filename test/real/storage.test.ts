import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { bpftraceProcessesWith, processesWith } from "../helpers/processes.js";
import { describeReal } from "../helpers/real-bpftrace.js";
import { startServer, type RunningServer } from "../helpers/server-process.js";
import { allPages, integrityOf, ok, start, waitForEnd, withoutStored, type Page } from "../helpers/store-client.js";

// A process that opens /dev/null `perTick` times every 20 ms; SIGUSR2 doubles the rate.
const WORKLOAD = `let perTick = 2; process.on("SIGUSR2", () => { perTick *= 2; }); const fs = require("node:fs");
setInterval(() => { for (let i = 0; i < perTick; i += 1) fs.closeSync(fs.openSync("/dev/null", "r")); }, 20);`;

describeReal("stored executions with the real bpftrace", () => {
  const scratch = mkdtempSync(join(tmpdir(), "store-real-"));
  const stateDir = join(scratch, "state");
  const marker = `store-real-${process.pid}`;
  const servers: RunningServer[] = [];
  let workload: ChildProcess;

  const serverOn = async (): Promise<RunningServer> => {
    const server = await startServer({ env: { BPFTRACE_MCP_STATE_DIR: stateDir } });
    servers.push(server);
    return server;
  };

  beforeAll(() => {
    workload = spawn(process.execPath, ["-e", WORKLOAD], { stdio: "ignore" });
  });

  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close().catch(() => undefined);
  });

  afterAll(() => {
    workload.kill("SIGKILL");
    for (const pid of processesWith(marker)) process.kill(pid, "SIGKILL");
    rmSync(scratch, { recursive: true, force: true });
  });

  const opensProgram = (): string => `tracepoint:syscalls:sys_enter_openat /pid == ${workload.pid} / { @opens = count(); } // ${marker}`;

  it("lists and pages finished runs identically after a SIGKILL of the server, the running one interrupted with its first lines, and a saved session reruns with the change in its comparison", async () => {
    const first = await serverOn();
    const finished = await start(first, opensProgram(), 2);
    const end = await waitForEnd(first, finished);
    expect(end.status).toBe("timed_out");
    const finishedPages = await allPages(first, finished, 3);
    // The END map comes folded into one line, and parsed in `maps`.
    expect(finishedPages.flatMap((page) => page.lines)).toContainEqual(expect.stringMatching(/^\[maps: @opens /));
    expect(finishedPages.flatMap((page) => page.maps ?? []).map((map) => map.name)).toContain("@opens");

    const running = await start(first, `interval:ms:20 { @ticks = count(); printf("tick %llu\\n", nsecs); } // ${marker}`, 60);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const seen = ok<Page>(await first.call("get_result", { execution_id: running, offset: 0, limit: 10_000 }));
    expect(seen.lines.length).toBeGreaterThan(20);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    process.kill(first.pid, "SIGKILL");
    servers.splice(0);
    await first.close().catch(() => undefined);
    // Its watchdog would end it at its deadline; the test does not wait for that.
    for (const pid of bpftraceProcessesWith(marker)) process.kill(pid, "SIGINT");

    const second = await serverOn();
    const listed = ok<{ executions: { execution_id: string; status: string; stored: boolean }[] }>(await second.call("list_executions"));
    expect(listed.executions).toEqual([
      expect.objectContaining({ execution_id: running, status: "interrupted", stored: true }),
      expect.objectContaining({ execution_id: finished, status: "timed_out", stored: true }),
    ]);
    expect((await allPages(second, finished, 3)).map(withoutStored)).toEqual(finishedPages.map(withoutStored));
    const interrupted = ok<Page>(await second.call("get_result", { execution_id: running, offset: 0, limit: 10_000 }));
    expect(interrupted.lines.slice(0, seen.lines.length)).toEqual(seen.lines);

    const saved = ok<{ session: { items: unknown[] } }>(await second.call("sessions", { action: "save", name: "opens", execution_ids: [finished], note: "rate doubles" }));
    expect(saved.session.items).toHaveLength(1);
    workload.kill("SIGUSR2");
    const rerun = ok<{ complete: boolean; items: { before: string; after: string; status: string; comparison: { maps: { name: string; total: [number, number] }[] } }[] }>(
      await second.call("sessions", { action: "run", name: "opens" }),
    );
    expect(rerun.complete).toBe(true);
    expect(rerun.items[0]).toMatchObject({ before: finished, status: "timed_out" });
    const opens = rerun.items[0]?.comparison.maps.find((map) => map.name === "@opens");
    expect(opens, JSON.stringify(rerun.items[0])).toBeDefined();
    const [before, after] = opens!.total;
    // Twice the opens per second over the same two seconds.
    expect(after / before).toBeGreaterThan(1.5);
    expect(after / before).toBeLessThan(2.6);
    await second.close();
    servers.splice(0);
    expect(integrityOf(stateDir)).toBe("ok");
  });
});
