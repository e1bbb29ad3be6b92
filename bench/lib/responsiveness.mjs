// Figure 3: how long get_result and tools/list take while four traces flood output, against idle
// and beside a reference MCP server answering in the same windows.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { REFERENCE_SERVER, startServer, structured, waitForEnd } from "./mcp-server.mjs";
import { floodProgram } from "./throughput.mjs";
import { busyShare, cpuTimes, schedStat } from "./processes.mjs";
import { latencyPercentiles, summarize } from "./stats.mjs";

const FLOODS = 4;
// Each flood attempts 20 printf per 100 µs tick (200k lines/s): flat out for bpftrace 0.17.
const FLOOD_PER_FIRE = 20;
const PAGE = 1_000;
// The page stays PAGE lines, as before get_result bounded pages by characters (8k by default).
const PAGE_CHARS = 1_000_000;
// A pause between requests, as a polling client makes: back-to-back requests would spend a core on the client alone.
const PACE_MS = 10;
// The reference MCP server (figure 6's) answers in the same windows, between our requests: what
// any stdio MCP server gets from this machine under the same floods, with no trace output to read.
const REFERENCE_CALL = { name: "echo", arguments: { message: "ping" } };
// Prints a little over PAGE lines and exits: the idle side reads a page of the same size.
const BYSTANDER = fileURLToPath(new URL("./bystander.mjs", import.meta.url));
const PAGE_PROGRAM = `interval:ms:5 { $i = 0; while ($i < 100) { printf("line %d\\n", $i); $i++; } @n++; if (@n >= 12) { exit(); } }\n`;

async function timed(action) {
  const started = performance.now();
  const value = await action();
  return { ms: performance.now() - started, value };
}

/**
 * Requests for `seconds`, PACE_MS apart, in turn: get_result (a PAGE-line tail) and tools/list to
 * our server, then echo and tools/list to the reference server.
 */
async function sampleWindow(server, reference, executionIds, seconds) {
  // Runs beside the requests for the same window: how late the machine lets any light process run.
  const bystander = new Promise((resolve, reject) => {
    execFile(process.execPath, [BYSTANDER, String(seconds)], (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout))));
  });
  const before = await server.readProbe();
  const machineBefore = cpuTimes();
  const schedBefore = schedStat(server.pid);
  const getResult = [];
  const toolsList = [];
  const referenceCall = [];
  const referenceToolsList = [];
  const offsets = new Map(executionIds.map((id) => [id, 0]));
  const deadline = performance.now() + seconds * 1000;
  for (let turn = 0; performance.now() < deadline; turn += 1) {
    const executionId = executionIds[turn % executionIds.length];
    const read = await timed(() => server.request("tools/call", { name: "get_result", arguments: { execution_id: executionId, offset: offsets.get(executionId), limit: PAGE, max_chars: PAGE_CHARS } }));
    getResult.push(read.ms);
    offsets.set(executionId, Math.max(0, structured(read.value).lines_total - PAGE));
    await sleep(PACE_MS);
    toolsList.push((await timed(() => server.request("tools/list"))).ms);
    await sleep(PACE_MS);
    referenceCall.push((await timed(() => reference.request("tools/call", REFERENCE_CALL))).ms);
    await sleep(PACE_MS);
    referenceToolsList.push((await timed(() => reference.request("tools/list"))).ms);
    await sleep(PACE_MS);
  }
  const machineBusy = busyShare(machineBefore, cpuTimes());
  const schedAfter = schedStat(server.pid);
  const after = await server.readProbe();
  const cpuMs = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000;
  const windowMs = after.at - before.at;
  return {
    getResult,
    toolsList,
    referenceCall,
    referenceToolsList,
    bystander: await bystander,
    serverCpuShare: cpuMs / windowMs,
    machineBusy,
    // Time the server's main thread was ready to run but had no CPU, per millisecond of the window.
    runQueueWaitShare: (schedAfter.waitNs - schedBefore.waitNs) / 1e6 / windowMs,
    loopDelayMs: after.loopDelayMs,
    gcPauses: after.gcPauses,
  };
}

// A CPU must have run this many of the bystander's wake-ups in a window for its timing to count.
const MIN_CPU_SAMPLES = 10;

/** Per CPU, the bystander's fixed work in ms (median over the windows it ran there, p50 within each). */
function workByCpu(perWindow) {
  const times = new Map();
  for (const window of perWindow) {
    for (const [cpu, { samples, workP50 }] of Object.entries(window)) {
      if (samples >= MIN_CPU_SAMPLES) times.set(cpu, [...(times.get(cpu) ?? []), workP50]);
    }
  }
  return Object.fromEntries([...times].map(([cpu, values]) => [cpu, summarize(values)]));
}

/**
 * Each run: an idle window (the same requests against a finished execution), then a window with
 * FLOODS traces printing flat out (~200k printf/s each attempted). p50/p99 per window.
 */
export async function measureResponsiveness({ runs, seconds, log }) {
  log(`responsiveness: ${runs} × (idle ${seconds} s, ${FLOODS} floods ${seconds} s)`);
  const server = await startServer({ env: { BPFTRACE_MCP_KILL_GRACE_MS: "2000" }, probe: "stats" });
  let reference;
  const windows = { idle: [], flood: [] };
  let floodLinesPerSecond = 0;
  try {
    reference = await startServer(REFERENCE_SERVER);
    const page = structured(await server.call("exec_program", { program: PAGE_PROGRAM, timeout: 10 }));
    await waitForEnd(server, page.execution_id);
    // Unmeasured warm-up of both request paths.
    await sampleWindow(server, reference, [page.execution_id], 0.3);
    for (let run = 0; run < runs; run += 1) {
      windows.idle.push(await sampleWindow(server, reference, [page.execution_id], seconds));
      const floods = [];
      for (let index = 0; index < FLOODS; index += 1) {
        floods.push(structured(await server.call("exec_program", { program: floodProgram(FLOOD_PER_FIRE), timeout: Math.ceil(seconds) + 10 })).execution_id);
      }
      await sleep(300);
      windows.flood.push(await sampleWindow(server, reference, floods, seconds));
      const stopped = await Promise.all(floods.map((id) => server.call("stop_execution", { execution_id: id })));
      floodLinesPerSecond += stopped.reduce((sum, result) => sum + (structured(result).lines_total * 1000) / structured(result).duration_ms, 0);
    }
  } finally {
    try {
      await server.close();
    } finally {
      await reference?.close();
    }
  }
  const describe = (side) => {
    // Per window p50/p99 (median and spread over the windows), and all samples pooled.
    const latencies = (kind) => {
      const perWindow = windows[side].map((window) => latencyPercentiles(window[kind]));
      return { p50: summarize(perWindow.map((p) => p.p50)), p99: summarize(perWindow.map((p) => p.p99)), pooled: latencyPercentiles(windows[side].flatMap((window) => window[kind])) };
    };
    return {
      getResult: latencies("getResult"),
      toolsList: latencies("toolsList"),
      reference: { call: latencies("referenceCall"), toolsList: latencies("referenceToolsList") },
      // Inside the server: the share of one core it used, and how late its event loop ran timers.
      serverCpuShare: summarize(windows[side].map((window) => window.serverCpuShare)),
      runQueueWaitShare: summarize(windows[side].map((window) => window.runQueueWaitShare)),
      machineBusy: summarize(windows[side].map((window) => window.machineBusy)),
      loopDelayP99Ms: summarize(windows[side].map((window) => window.loopDelayMs.p99)),
      loopDelayMaxMs: summarize(windows[side].map((window) => window.loopDelayMs.max)),
      gcPauseMaxMs: summarize(windows[side].map((window) => window.gcPauses.maxMs)),
      bystanderP99Ms: summarize(windows[side].map((window) => window.bystander.p99)),
      bystanderDoneP99Ms: summarize(windows[side].map((window) => window.bystander.doneP99)),
      bystanderWorkP50Ms: summarize(windows[side].map((window) => window.bystander.workP50)),
      bystanderWorkByCpu: workByCpu(windows[side].map((window) => window.bystander.workByCpu)),
    };
  };
  return { floods: FLOODS, pageLines: PAGE, floodProgram: floodProgram(FLOOD_PER_FIRE), floodLinesPerSecond: floodLinesPerSecond / runs, idle: describe("idle"), flood: describe("flood") };
}
