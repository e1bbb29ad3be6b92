import { expect, it } from "vitest";
import { bpftraceProcessesWith } from "../helpers/processes.js";
import { callToolRaw, initializeRaw, spawnRawServer, type RawServer } from "../helpers/raw-server.js";
import { describeReal } from "../helpers/real-bpftrace.js";
import { waitFor } from "../helpers/server-process.js";

// A client waits about 3 s for a server to go before it kills it: every trace must be gone by then.
const CLIENT_PATIENCE_MS = 3_000;
const TRACES = 3;

/** Starts `count` long traces carrying `marker` in their program text; returns their ids. */
async function startTraces(server: RawServer, marker: string, count: number, timeoutSeconds: number): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const started = await callToolRaw(server, "exec_program", { program: `interval:ms:200 { @ticks = count(); } // ${marker}-${index}`, timeout: timeoutSeconds });
    expect(started.isError, started.content[0]?.text).toBeUndefined();
    expect(started.structuredContent).toMatchObject({ status: "running", attached_probes: 1 });
    ids.push(started.structuredContent?.execution_id as string);
  }
  expect(bpftraceProcessesWith(marker)).toHaveLength(count);
  return ids;
}

async function startServerWithTraces(marker: string, timeoutSeconds = 60): Promise<RawServer> {
  const server = spawnRawServer();
  await initializeRaw(server);
  await startTraces(server, marker, TRACES, timeoutSeconds);
  return server;
}

describeReal("shutting the server down with traces running (real bpftrace)", () => {
  const endings: { name: string; end: (server: RawServer) => void }[] = [
    { name: "its stdin closes", end: (server) => server.child.stdin.end() },
    { name: "it gets SIGINT", end: (server) => server.child.kill("SIGINT") },
    { name: "it gets SIGTERM", end: (server) => server.child.kill("SIGTERM") },
  ];

  for (const { name, end } of endings) {
    it(`ends every bpftrace and exits 0 within 3 s when ${name}`, async () => {
      const marker = `shutdown-${name.replace(/\W+/g, "-")}-${process.pid}-${Date.now()}`;
      const server = await startServerWithTraces(marker);
      try {
        const endedAt = Date.now();
        end(server);
        const exit = await Promise.race([server.exited, new Promise<"too slow">((resolve) => setTimeout(() => resolve("too slow"), 10_000))]);
        const elapsedMs = Date.now() - endedAt;
        expect(exit).toEqual({ code: 0, signal: null });
        expect(elapsedMs).toBeLessThan(CLIENT_PATIENCE_MS);
        expect(bpftraceProcessesWith(marker)).toEqual([]);
        expect(server.stderr()).toMatch(/"msg":"shutting down: stopping every running trace"/);
        expect(server.strayLines()).toEqual([]);
      } finally {
        server.child.kill("SIGKILL");
      }
    });
  }

  it("leaves no bpftrace past its deadline when the server is SIGKILLed (the in-program guard ends them)", async () => {
    const timeoutSeconds = 3;
    const marker = `sigkill-${process.pid}-${Date.now()}`;
    const startedAt = Date.now();
    const server = await startServerWithTraces(marker, timeoutSeconds);
    server.child.kill("SIGKILL");
    expect(await server.exited).toEqual({ code: null, signal: "SIGKILL" });
    // Detached in their own process group, the traces outlive the server: only their guard can end them now.
    expect(bpftraceProcessesWith(marker)).toHaveLength(TRACES);
    // The guard fires 500 ms after the timeout, measured from bpftrace's own start; allow 1.5 s for it to exit.
    const deadlineMs = timeoutSeconds * 1000 + 500 + 1_500;
    const gone = await waitFor(() => bpftraceProcessesWith(marker).length === 0, deadlineMs - (Date.now() - startedAt) + 100, 100);
    const goneAfterMs = Date.now() - startedAt;
    expect(gone, `bpftrace still running ${goneAfterMs} ms after the traces started: ${JSON.stringify(bpftraceProcessesWith(marker))}`).toBe(true);
    expect(goneAfterMs).toBeLessThanOrEqual(deadlineMs + 200);
  });
});
