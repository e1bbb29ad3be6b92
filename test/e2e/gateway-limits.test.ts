// Limits a red team broke, on the built server with a fake bpftrace: a list_probes filter that
// froze the event loop, output memory without bound, and one message that ended the session.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { processesWith } from "../helpers/processes.js";
import { initializeRaw, spawnRawServer, type RawServer } from "../helpers/raw-server.js";
import { isAlive, startServer, textOf, waitFor, type RunningServer } from "../helpers/server-process.js";

const LIST_0_17 = fileURLToPath(new URL("../fixtures/bpftrace-output/0.17.0/list.txt", import.meta.url));

let fake = "";
const scratch = mkdtempSync(join(tmpdir(), "gateway-limits-"));
beforeAll(() => {
  fake = installFakeBpftrace();
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  if (fake) rmSync(dirname(fake), { recursive: true, force: true });
});

/** Resolves with how long `promise` took, or rejects after `timeoutMs`. */
async function timed<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const value = await Promise.race([promise, timeout]);
    return { value, ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

describe("a list_probes filter built to backtrack (fake bpftrace listing the 0.17 probes)", () => {
  let server: RunningServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("answers 't?*?*?*?*?*?*?*?*!' in well under a second, and ping while it runs", async () => {
    // `bpftrace -l` prints the recorded 0.17 list; everything else goes to the usual fake.
    const lister = join(scratch, "bpftrace");
    writeFileSync(lister, `#!/bin/sh\nif [ "$1" = "-l" ] && [ "$#" -eq 1 ]; then exec cat "${LIST_0_17}"; fi\nexec "${fake}" "$@"\n`);
    chmodSync(lister, 0o755);
    server = await startServer({ env: { BPFTRACE_PATH: lister } });
    // A plain word loads the whole list into the server; the next search is matched in memory.
    const warm = await server.call("list_probes", { filter: "sched_switch" });
    expect((warm.structuredContent as { count: number }).count).toBeGreaterThan(0);
    const client = server.client;
    const search = timed(server.call("list_probes", { filter: "t?*?*?*?*?*?*?*?*!" }), 10_000, "list_probes");
    const ping = timed(client.ping(), 2_000, "ping during the search");
    const [searched, pinged] = await Promise.all([search, ping]);
    expect(searched.value.isError, textOf(searched.value)).toBeFalsy();
    expect(searched.value.structuredContent).toMatchObject({ count: 0 });
    expect(searched.ms).toBeLessThan(1_000);
    expect(pinged.ms).toBeLessThan(1_000);
    // A brace-heavy one goes the automaton's way: still quick, still the right answer.
    const braces = await timed(server.call("list_probes", { filter: `{t,k}${"{a,?}*".repeat(12)}!` }), 10_000, "list_probes with braces");
    expect(braces.value.structuredContent).toMatchObject({ count: 0 });
    expect(braces.ms).toBeLessThan(2_000);
  });
});

/** Resident set size of a process, in bytes. */
function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
}

describe("output memory across many flooding runs (fake bpftrace)", () => {
  let server: RunningServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("keeps every run's output within BPFTRACE_MCP_OUTPUT_BUDGET_BYTES, dropping the oldest finished runs' first and saying so", async () => {
    const budget = 8 * 1024 * 1024;
    server = await startServer({
      env: {
        BPFTRACE_PATH: fake,
        BPFTRACE_MCP_OUTPUT_BUDGET_BYTES: String(budget),
        // 60 KB lines cut to 1 KiB: a kept line used to pin the whole 64 KiB read it came in.
        BPFTRACE_MCP_MAX_LINE_CHARS: "1024",
        BPFTRACE_MCP_RING_BYTES: String(1024 * 1024),
        // Memory alone: with the store on, a run whose output left memory is read back from disk.
        BPFTRACE_MCP_STATE_DIR: "off",
      },
    });
    const baseline = rssBytes(server.pid);
    const runs: string[] = [];
    for (let run = 0; run < 12; run += 1) {
      // 20 KB lines, three to a 64 KiB read.
      const started = await server.call("exec_program", { program: `BEGIN { } // fake: long-lines=1200 // fake: line-bytes=20000 // fake: exit-after-attach=0 // run ${run}`, timeout: 30 });
      expect(started.isError, textOf(started)).toBeFalsy();
      const executionId = (started.structuredContent as { execution_id: string }).execution_id;
      runs.push(executionId);
      expect(await waitFor(async () => ((await server?.call("get_result", { execution_id: executionId, limit: 1 }))?.structuredContent as { status: string }).status !== "running", 20_000, 50)).toBe(true);
    }
    const peak = rssBytes(server.pid);
    const first = await server.call("get_result", { execution_id: runs[0] ?? "", limit: 10 });
    const last = await server.call("get_result", { execution_id: runs.at(-1) ?? "", limit: 10 });
    expect(first.structuredContent).toMatchObject({ output_evicted: true, lines: [] });
    expect(textOf(first)).toContain("Output dropped to stay within the server's memory budget");
    expect(last.structuredContent).toMatchObject({ output_evicted: false, status: "completed" });
    expect((last.structuredContent as { lines: unknown[] }).lines.length).toBeGreaterThan(0);
    // Each run pinned ~20 MB of reads before (its 1 MiB cap counted line lengths); the budget is 8 MiB.
    process.stderr.write(`output budget e2e: RSS ${(baseline / 2 ** 20).toFixed(0)} MiB before the runs, ${(peak / 2 ** 20).toFixed(0)} MiB after\n`);
    expect(peak - baseline, `RSS grew from ${baseline} to ${peak}`).toBeLessThan(96 * 1024 * 1024);
  });
});

describe("a message over BPFTRACE_MCP_MAX_MESSAGE_BYTES (fake bpftrace, raw pipes)", () => {
  let server: RawServer | undefined;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it("answers -32600 with the request's id, goes on serving, and keeps its traces running", async () => {
    server = spawnRawServer({ BPFTRACE_PATH: fake, BPFTRACE_MCP_MAX_MESSAGE_BYTES: String(1024 * 1024) });
    await initializeRaw(server);
    const marker = `oversized-${process.pid}-${Date.now()}`;
    server.send({ jsonrpc: "2.0", id: "exec", method: "tools/call", params: { name: "exec_program", arguments: { program: `BEGIN { } // ${marker}`, timeout: 60 } } });
    await server.responseTo("exec", 30_000);
    const tracing = processesWith(marker).length;
    expect(tracing).toBeGreaterThan(0);
    // An 11 MiB validate_program, as the red team sent.
    const program = `BEGIN { } // ${"v".repeat(11 * 1024 * 1024)}`;
    server.send({ jsonrpc: "2.0", id: "huge", method: "tools/call", params: { name: "validate_program", arguments: { program } } });
    const answer = await server.responseTo("huge", 20_000);
    expect(answer.error).toMatchObject({ code: -32600, message: expect.stringMatching(/Message too large: \d+ bytes, over this server's limit of 1048576 bytes/) as unknown });
    // Its id is not at the start: answered with id null.
    server.write(`{"method":"ping","params":{"_meta":{"pad":"${"p".repeat(2 * 1024 * 1024)}"}},"jsonrpc":"2.0","id":"late-id"}\n`);
    server.send({ jsonrpc: "2.0", id: "after", method: "ping" });
    expect(await server.responseTo("after", 30_000)).toEqual({ jsonrpc: "2.0", id: "after", result: {} });
    expect(server.messages().filter((message) => message.id === null && message.error?.code === -32600)).toHaveLength(1);
    expect(isAlive(server.pid)).toBe(true);
    expect(processesWith(marker)).toHaveLength(tracing);
    expect(server.stderr()).toMatch(/message over BPFTRACE_MCP_MAX_MESSAGE_BYTES skipped/);
    expect(server.strayLines()).toEqual([]);
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    expect(await waitFor(() => processesWith(marker).length === 0, 5_000)).toBe(true);
  });
});
