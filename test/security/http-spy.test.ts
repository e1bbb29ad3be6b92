// Over HTTP, a principal allowed to trace is root-equivalent for reading, so principal isolation
// holds only because no trace can observe the server's own process (the self-exclusion filter of
// src/policy/instrument.ts). Here principal B traces the server's socket reads and writes while
// principal A calls with its token: B's output must hold neither A's token nor A's results, while
// B demonstrably traces (it sees a control process outside the server).
import { readFileSync, rmSync } from "node:fs";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpProcess, type HttpProcess } from "../helpers/http-process.js";
import { callTool, connectHttp } from "../helpers/http-server.js";
import { describeReal } from "../helpers/real-bpftrace.js";
import type { RunningServer } from "../helpers/server-process.js";
import { absentPath, bpftraceUnderTestEnv, newMarker, outputOfStarted, spyAround, startControlProcess, strWindows, type ControlProcess } from "./support.js";

/** The SDK client of one principal, in the shape the spy helpers take. */
function asServer(client: Client, pid: number): RunningServer {
  return { pid, call: async (name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult } as unknown as RunningServer;
}

/** Every 24-character piece of `secret`: str() windows 32 bytes apart show any of them whole. */
function piecesOf(secret: string): string[] {
  const pieces: string[] = [];
  for (let start = 0; start + 24 <= secret.length; start += 1) pieces.push(secret.slice(start, start + 24));
  return pieces;
}

describeReal("HTTP principals (root): principal B's trace of the server's sockets sees neither A's token nor A's results", () => {
  const auditLog = absentPath("http-spy-audit");
  let server: HttpProcess;
  let controlProcess: ControlProcess;
  let bob: Client;

  beforeAll(async () => {
    server = await startHttpProcess({ tokens: { alice: "bpftrace:trace", bob: "bpftrace:trace" }, env: { ...bpftraceUnderTestEnv(), BPFTRACE_MCP_AUDIT_LOG: auditLog, BPFTRACE_MCP_ATTACH_WAIT_MS: "60000" } });
    controlProcess = startControlProcess("http-spy");
    bob = await connectHttp(server.url, server.tokens.bob ?? "");
  });

  afterAll(async () => {
    controlProcess?.stop();
    await bob?.close().catch(() => undefined);
    await server?.close();
    rmSync(auditLog, { force: true });
    rmSync(`${auditLog}.1`, { force: true });
  });

  /** B spies with `spyProgram` while A runs a trace printing a marker and reads it back; B must see the control, never A's token or marker. */
  async function expectBlind(spyProgram: string): Promise<void> {
    const aliceToken = server.tokens.alice ?? "";
    const marker = newMarker("res");
    let aliceOutput: string[] = [];
    const report = await spyAround(asServer(bob, server.pid), spyProgram, controlProcess.control, async () => {
      // A new connection: A's token crosses the socket on every request of it.
      const alice = await connectHttp(server.url, aliceToken);
      try {
        const started = await callTool(alice, "exec_program", { program: `BEGIN { printf("${marker}\\n"); exit(); }`, timeout: 5 });
        aliceOutput = await outputOfStarted(asServer(alice, server.pid), started);
      } finally {
        await alice.close();
      }
    });
    const seen = report.lines.join("\n");
    expect(report.started.isError, JSON.stringify(report.started).slice(0, 500)).toBeFalsy();
    expect(report.sawControl, `the spy never printed the control string (is it tracing?): ${seen.slice(0, 800)}`).toBe(true);
    // A did get its result, through the very socket B watched.
    expect(aliceOutput, "A's own trace did not print its marker").toContain(marker);
    expect(readFileSync(auditLog, "utf8")).toContain(marker);
    expect(report.lines.filter((line) => line.includes(marker)), "B saw A's results").toEqual([]);
    const leaked = piecesOf(aliceToken).filter((piece) => seen.includes(piece));
    expect(leaked, "B saw A's token").toEqual([]);
  }

  describe("B traces the server's socket syscalls by pid", () => {
    it("read(2) and recvfrom(2) of the requests (where A's Authorization header arrives)", async () => {
      const pid = server.pid;
      await expectBlind(
        [
          `tracepoint:syscalls:sys_enter_read /pid == ${pid} || pid == ${controlProcess.pid}/ { @buf[tid] = (uint64)args->buf; }`,
          `tracepoint:syscalls:sys_enter_recvfrom /pid == ${pid}/ { @buf[tid] = (uint64)args->ubuf; }`,
          `tracepoint:syscalls:sys_exit_read,tracepoint:syscalls:sys_exit_recvfrom /@buf[tid] != 0/ { $a = @buf[tid]; delete(@buf[tid]); ${strWindows("R", "$a", "args->ret")} }`,
        ].join("\n"),
      );
    });

    it("write(2) and sendto(2) of the responses (where A's results leave)", async () => {
      const pid = server.pid;
      await expectBlind(
        [
          `tracepoint:syscalls:sys_enter_write /pid == ${pid} || pid == ${controlProcess.pid}/ { $a = (uint64)args->buf; ${strWindows("W", "$a", "args->count")} }`,
          `tracepoint:syscalls:sys_enter_sendto /pid == ${pid}/ { $a = (uint64)args->buff; ${strWindows("S", "$a", "args->len")} }`,
        ].join("\n"),
      );
    });

    it('write(2) by any process named "node" but this test', async () => {
      await expectBlind(`tracepoint:syscalls:sys_enter_write /comm == "node" && pid != ${process.pid}/ { $a = (uint64)args->buf; ${strWindows("W", "$a", "args->count")} }`);
    });
  });

  it("no server log line carried a token", () => {
    for (const token of Object.values(server.tokens)) expect(server.stderr()).not.toContain(token);
  });
});
