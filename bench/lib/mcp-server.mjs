// Spawns an MCP server over stdio the way a client does, and times what a client sees.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { z } from "zod";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { performance } from "node:perf_hooks";
import process from "node:process";
import { childPidsOf, disown, killSurvivors, own, rssKb } from "./processes.mjs";

export const SERVER_ENTRY = fileURLToPath(new URL("../../dist/index.js", import.meta.url));
const EVERYTHING_ENTRY = fileURLToPath(new URL("../../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url));
/** The reference MCP server (figures 3 and 6): `startServer(REFERENCE_SERVER)`. */
export const REFERENCE_SERVER = { entry: EVERYTHING_ENTRY, args: ["stdio"] };
const PROBE_PRELOAD = fileURLToPath(new URL("./server-probe.mjs", import.meta.url));

/** Settings every bench server gets unless a measurement overrides them. */
export const BASE_ENV = {
  BPFTRACE_MCP_AUDIT_LOG: "off",
  LOG_LEVEL: "info",
};

/**
 * Starts our built server (or `entry` with `args`) and connects an SDK client to it.
 * `nodeFlags` go to node itself (e.g. --cpu-prof when hunting a hot path).
 * `probe` preloads server-probe.mjs: `readProbe()` then reports memory, CPU and event-loop delay
 * from inside the server (with `probe: "gc"`, after forcing garbage collection).
 */
export async function startServer({ env = {}, entry = SERVER_ENTRY, args = [], probe = null, nodeFlags = [] } = {}) {
  // Executions are stored (the default) in a directory of the server's own, removed at close, unless the measurement names one.
  const stateDir = env.BPFTRACE_MCP_STATE_DIR === undefined && entry === SERVER_ENTRY ? mkdtempSync(join(tmpdir(), "bpftrace-mcp-bench-state-")) : null;
  const probeFile = probe ? join(mkdtempSync(join(tmpdir(), "bpftrace-mcp-bench-")), "probe.json") : null;
  const nodeArgs = [...nodeFlags, ...(probe ? ["--expose-gc", "--import", PROBE_PRELOAD] : [])];
  const probeEnv = probe ? { BENCH_PROBE_FILE: probeFile, BENCH_PROBE_GC: probe === "gc" ? "1" : "0" } : {};
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...nodeArgs, entry, ...args],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...BASE_ENV, ...(stateDir ? { BPFTRACE_MCP_STATE_DIR: stateDir } : {}), ...probeEnv, ...env },
    cwd: "/",
    stderr: "pipe",
  });
  // The logs must be drained or a full pipe would block the server; keep the tail for failure reports.
  let stderrTail = "";
  transport.stderr?.on("data", (chunk) => {
    stderrTail = (stderrTail + chunk.toString("utf8")).slice(-8_000);
  });
  const client = new Client({ name: "bpftrace-mcp-bench", version: "1.0.0" });
  const started = performance.now();
  await client.connect(transport);
  const initializeMs = performance.now() - started;
  const pid = transport.pid;
  if (pid === null) throw new Error("server did not start");
  own(pid);

  /** Calls a tool; a tool error (isError) is thrown with its text so no measurement counts a failure. */
  const call = async (name, toolArgs = {}, options = {}) => {
    const result = await client.callTool({ name, arguments: toolArgs }, undefined, { timeout: 120_000, ...options });
    if (result.isError) {
      const text = result.content?.[0]?.type === "text" ? result.content[0].text : JSON.stringify(result.content);
      throw new Error(`${name} failed: ${text}`);
    }
    return result;
  };

  /**
   * Sends a raw request and resolves with its result unvalidated: latency then measures the server
   * and the pipe, not the SDK client's own checks (its listTools() compiles an AJV validator per
   * output schema on every call, about 20 ms here).
   */
  const request = (method, params = {}) => client.request({ method, params }, PASSTHROUGH, { timeout: 120_000 });

  return {
    client,
    pid,
    request,
    initializeMs,
    call,
    stderrTail: () => stderrTail,
    rssKb: () => rssKb(pid),
    /** Asks the preloaded probe for a report and resolves with it (requires `probe`). */
    readProbe: async () => {
      if (!probeFile) throw new Error("server started without the probe preload");
      const before = Date.now();
      process.kill(pid, "SIGUSR2");
      for (let attempt = 0; attempt < 100; attempt += 1) {
        await sleep(20);
        try {
          const report = JSON.parse(readFileSync(probeFile, "utf8"));
          if (report.at >= before) return report;
        } catch {
          // Not written yet, or caught mid-write.
        }
      }
      throw new Error("the server's probe did not report within 2 s");
    },
    /** Closes the client (the server stops its traces when stdin ends); kills anything left behind. */
    close: async () => {
      const children = childPidsOf(pid);
      await client.close();
      // The transport waits up to 2 s per step; the server's own shutdown finishes within 3 s.
      const stray = await killSurvivors([pid, ...children], 3_000);
      disown(pid);
      if (probeFile) rmSync(dirname(probeFile), { recursive: true, force: true });
      if (stateDir) rmSync(stateDir, { recursive: true, force: true });
      return stray;
    },
  };
}

const PASSTHROUGH = z.object({}).passthrough();
// Polling, not a long-poll: get_result's wait wakes on every chunk of output, so waiting for the end
// of a flooding trace that way would turn into thousands of calls competing with the capture.
const END_POLL_MS = 100;

/** Polls get_result (one line, no wait) until the execution has ended; resolves with that result. */
export async function waitForEnd(server, executionId) {
  for (;;) {
    const result = structured(await server.call("get_result", { execution_id: executionId, offset: 0, limit: 1 }));
    if (result.status !== "running") return result;
    await sleep(END_POLL_MS);
  }
}

/** The structured result of a tool call. */
export function structured(result) {
  if (!result.structuredContent) throw new Error("tool result carries no structuredContent");
  return result.structuredContent;
}
