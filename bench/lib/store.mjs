// Figure 7: the execution store. Start-up with a large store against an empty one, and list/get on
// stored executions against the same calls on live ones, measured in the same run.
import Database from "better-sqlite3";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { DATABASE_FILE, SCHEMA, SCHEMA_VERSION } from "../../dist/storage/schema.js";
import { startServer, structured, waitForEnd } from "./mcp-server.mjs";
import { alternate, latencyPercentiles, pairedRatios, summarize } from "./stats.mjs";

const LINE_BYTES = 100;
// Room for the whole synthetic store: retention by size must not delete while it is measured.
const STORE_MAX_BYTES = String(8 * 2 ** 30);
const LIVE_RUNS = 4;

/** Writes `executions` finished runs of `linesEach` 100-byte lines into a fresh store directory, as the server would have. */
export function buildStore(directory, executions, linesEach) {
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  closeSync(openSync(join(directory, DATABASE_FILE), "a", 0o600));
  const db = new Database(join(directory, DATABASE_FILE));
  db.pragma("page_size = 65536");
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(SCHEMA);
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
  const line = "x".repeat(LINE_BYTES - 12);
  const text = Array.from({ length: linesEach }, (_, index) => `${String(index).padStart(10, "0")} ${line}\n`).join("");
  const bytes = Buffer.from(text);
  const ends = new Uint32Array(linesEach);
  for (let index = 0; index < linesEach; index += 1) ends[index] = index * LINE_BYTES + LINE_BYTES - 1;
  const endsBytes = Buffer.from(ends.buffer);
  const insertExecution = db.prepare(`INSERT INTO executions (id, owner_id, program, timeout_seconds, started_at, attached_at, attached_probes, ended_at, status, exit_code, exit_signal, error,
    lines_total, first_available, truncated_lines, output_evicted, maps, snapshots, server, updated_at, stored_bytes)
    VALUES (?, 'local', ?, 5, ?, ?, 1, ?, 'completed', 0, NULL, NULL, ?, 0, 0, 0, '[]', '[]', NULL, ?, ?)`);
  const insertOutput = db.prepare("INSERT INTO output (execution_id, first_line, line_count, bytes, ends, stderr) VALUES (?, 0, ?, ?, ?, NULL)");
  const now = Date.now();
  const ids = [];
  const batch = db.transaction((from, to) => {
    for (let index = from; index < to; index += 1) {
      const id = `ex-${index.toString(16).padStart(12, "0")}`;
      const startedAt = now - (executions - index) * 1_000;
      insertExecution.run(id, `BEGIN { printf("stored ${index}\\n"); }`, startedAt, startedAt + 5, startedAt + 5_000, linesEach, startedAt + 5_000, bytes.length + endsBytes.length);
      insertOutput.run(id, linesEach, bytes, endsBytes);
      ids.push(id);
    }
  });
  for (let from = 0; from < executions; from += 200) batch(from, Math.min(executions, from + 200));
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return ids;
}

/** Time of each call, in ms. */
async function timeCalls(count, call) {
  const samples = [];
  for (let index = 0; index < count; index += 1) {
    const started = performance.now();
    await call(index);
    samples.push(performance.now() - started);
  }
  return samples;
}

/** A server on `stateDir` until its first list_executions answers: spawn → initialize, and → that answer. */
async function startAndList(stateDir) {
  const started = performance.now();
  const server = await startServer({ env: { BPFTRACE_MCP_STATE_DIR: stateDir, BPFTRACE_MCP_STORE_MAX_BYTES: STORE_MAX_BYTES } });
  await server.request("tools/call", { name: "list_executions", arguments: {} });
  const firstListMs = performance.now() - started;
  await server.close();
  return { initializeMs: server.initializeMs, firstListMs };
}

/** Runs LIVE_RUNS traces of `lines` lines each to their end; their ids. */
async function liveRuns(server, lines) {
  const ids = [];
  for (let run = 0; run < LIVE_RUNS; run += 1) {
    const program = `BEGIN { $i = 0; while ($i < ${lines}) { printf("%010d ${"x".repeat(LINE_BYTES - 12)}\\n", $i); $i++; } exit(); }`;
    const started = structured(await server.call("exec_program", { program, timeout: 10 }));
    await waitForEnd(server, started.execution_id);
    ids.push(started.execution_id);
  }
  return ids;
}

export async function measureStore({ runs, executions, linesEach, calls, log }) {
  const scratch = mkdtempSync(join(tmpdir(), "bpftrace-mcp-bench-store-"));
  try {
    const full = join(scratch, "full");
    log(`store: writing ${executions} stored executions of ${linesEach} lines (${((executions * linesEach * LINE_BYTES) / 2 ** 30).toFixed(2)} GiB of output)`);
    const buildStarted = performance.now();
    const storedIds = buildStore(full, executions, linesEach);
    const buildSeconds = (performance.now() - buildStarted) / 1000;

    log(`store: start-up, ${runs} × (empty store, ${executions} stored): spawn → initialize, and → first list_executions`);
    await startAndList(full);
    let emptyRound = 0;
    const { baseline: empty, subject: large } = await alternate(
      runs,
      () => startAndList(join(scratch, `empty-${emptyRound++}`)),
      () => startAndList(full),
    );

    log(`store: list/get latency, ${calls} calls each on live and on stored executions`);
    const onFull = await startServer({ env: { BPFTRACE_MCP_STATE_DIR: full, BPFTRACE_MCP_STORE_MAX_BYTES: STORE_MAX_BYTES } });
    const memoryOnly = await startServer({ env: { BPFTRACE_MCP_STATE_DIR: "off" } });
    let latency;
    try {
      const live = await liveRuns(onFull, linesEach);
      const liveOff = await liveRuns(memoryOnly, linesEach);
      const page = (server, ids, index) => server.request("tools/call", { name: "get_result", arguments: { execution_id: ids[(index * 7919) % ids.length], offset: (index * 131) % linesEach, limit: 100 } });
      const liveGet = await timeCalls(calls, (index) => page(onFull, live, index));
      const storedGet = await timeCalls(calls, (index) => page(onFull, storedIds, index));
      // Live listing: a server whose executions are all in memory (the store off); stored: pages across the whole store.
      const liveList = await timeCalls(calls, () => memoryOnly.request("tools/call", { name: "list_executions", arguments: { limit: 20 } }));
      const storedList = await timeCalls(calls, (index) => onFull.request("tools/call", { name: "list_executions", arguments: { limit: 20, offset: (index * 997) % executions } }));
      latency = {
        get: { live: latencyPercentiles(liveGet), stored: latencyPercentiles(storedGet) },
        list: { live: latencyPercentiles(liveList), stored: latencyPercentiles(storedList), liveExecutions: liveOff.length },
      };
    } finally {
      await onFull.close();
      await memoryOnly.close();
    }
    return {
      executions,
      linesEach,
      outputBytes: executions * linesEach * LINE_BYTES,
      buildSeconds,
      startup: {
        emptyInitializeMs: summarize(empty.map((run) => run.initializeMs)),
        fullInitializeMs: summarize(large.map((run) => run.initializeMs)),
        emptyFirstListMs: summarize(empty.map((run) => run.firstListMs)),
        fullFirstListMs: summarize(large.map((run) => run.firstListMs)),
        initializeRatio: summarize(pairedRatios(large.map((run) => run.initializeMs), empty.map((run) => run.initializeMs))),
        firstListRatio: summarize(pairedRatios(large.map((run) => run.firstListMs), empty.map((run) => run.firstListMs))),
      },
      latency,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
