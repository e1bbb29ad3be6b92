// Figure 2: lines per second the server captures from a flooding trace, against a minimal reader.
import { setTimeout as sleep } from "node:timers/promises";
import { withDeadlineGuard } from "../../dist/bpftrace/deadline-guard.js";
import { readThroughPipe } from "./bpftrace-direct.mjs";
import { startServer, structured, waitForEnd } from "./mcp-server.mjs";
import { cpuTimeMs } from "./processes.mjs";
import { tallyExecution } from "./output-tally.mjs";
import { alternate, pairedRatios, summarize } from "./stats.mjs";

const PREFIX = "line ";
const TICK_SECONDS = 100e-6;
// Both sides run the same text: the server appends this guard for a timeout of `seconds`.
const GUARD_SLACK_MS = 500;

/** A trace firing every 100 µs (TICK_SECONDS) that printfs `perFire` lines each time: perFire × 10k printf calls/s. */
export function floodProgram(perFire) {
  return `interval:us:100 { $i = 0; while ($i < ${perFire}) { printf("${PREFIX}%d\\n", $i); $i++; } @fires = count(); }\n`;
}

/**
 * What reached the reader, and what bpftrace says it dropped itself (perf buffer overflow). Rates
 * are per second of tracing as bpftrace counted it (@fires ticks of 100 µs), so a side whose trace
 * ran a little longer or shorter is not favoured.
 */
function account({ fires, perFire, printfLines, lostEvents, lines }) {
  const printfCalls = fires * perFire;
  const tracedSeconds = fires * TICK_SECONDS;
  return {
    lines,
    printfLines,
    tracedSeconds,
    linesPerSecond: printfLines / tracedSeconds,
    attemptedPerSecond: printfCalls / tracedSeconds,
    printfCalls,
    bpftraceLost: lostEvents,
    // printf calls neither delivered nor reported lost: dropped on the way, or discarded by bpftrace at exit.
    unaccounted: printfCalls - lostEvents - printfLines,
  };
}

async function serverRun(perFire, seconds, storeEnv = {}) {
  // Rings (and the server-wide output budget) large enough to keep every line of every round: a line
  // the server drops is then a line it failed to read, not one a limit evicted. The store is on
  // (every line of the ring is written to disk too) unless storeEnv turns it off.
  // Sized from the attempted rate: every printf, plus bpftrace's "Lost N events" lines (up to half as
  // many again at 1M/s), with room to spare (3M lines overflowed once the server read 600k lines/s).
  const ringLines = Math.min(10_000_000, Math.ceil(perFire * 10_000 * (seconds + 1) * 1.6));
  const server = await startServer({ env: { BPFTRACE_MCP_RING_LINES: String(ringLines), BPFTRACE_MCP_RING_BYTES: "2000000000", BPFTRACE_MCP_OUTPUT_BUDGET_BYTES: "8000000000", ...storeEnv } });
  try {
    const cpuBefore = cpuTimeMs(server.pid);
    const started = structured(await server.call("exec_program", { program: floodProgram(perFire), timeout: seconds }));
    const end = await waitForEnd(server, started.execution_id);
    const cpuMs = cpuTimeMs(server.pid) - cpuBefore;
    const { tally, linesTotal, linesDropped } = await tallyExecution(server, started.execution_id, PREFIX);
    // bpftrace prints @fires as it exits: if it exited cleanly and the line is missing, the server lost
    // the end of the output. (Killed after ignoring SIGINT, bpftrace never printed it.)
    const exitedCleanly = end.exit_code === 0 && end.exit_signal === null;
    const missingEnd = tally.maps.fires === undefined && exitedCleanly ? 1 : 0;
    return {
      ...account({ fires: tally.maps.fires ?? Number.NaN, perFire, printfLines: tally.printfLines, lostEvents: tally.lostEvents, lines: linesTotal }),
      cpuMicrosPerLine: (cpuMs * 1000) / linesTotal,
      linesDropped,
      missingEnd,
      status: end.status,
      exitCode: end.exit_code,
      exitSignal: end.exit_signal,
      durationMs: end.duration_ms,
    };
  } finally {
    await server.close();
  }
}

async function pipeRun(bpftraceFile, perFire, seconds) {
  const program = withDeadlineGuard(floodProgram(perFire), seconds * 1000 + GUARD_SLACK_MS);
  const counts = await readThroughPipe(bpftraceFile, program, seconds * 1000);
  const fires = /@fires: (\d+)/.exec(counts.tail);
  if (!fires) throw new Error("the direct run printed no @fires count");
  return {
    ...account({ fires: Number(fires[1]), perFire, printfLines: counts.printfLines, lostEvents: counts.lostEvents, lines: counts.lines }),
    cpuMicrosPerLine: (counts.cpu.user + counts.cpu.system) / counts.lines,
  };
}

const SIDE_FIGURES = ["linesPerSecond", "attemptedPerSecond", "bpftraceLost", "unaccounted", "cpuMicrosPerLine"];

/** Median and spread of each per-run figure of one side. */
function summarizeSide(runs) {
  return Object.fromEntries(SIDE_FIGURES.map((figure) => [figure, summarize(runs.map((run) => run[figure]))]));
}

/**
 * For each target rate, alternates the minimal reader and the server `runs` times. The server's
 * ring is raised so nothing is evicted; its output is read back and tallied after each run.
 */
export async function measureThroughput({ runs, seconds, bpftraceFile, rates, log }) {
  const results = [];
  for (const rate of rates) {
    log(`throughput ${rate.name}: ${runs} × (minimal reader, server with its store, server with the store off), ${seconds} s each`);
    const storeOff = [];
    const { baseline, subject } = await alternate(
      runs,
      async () => {
        const run = await pipeRun(bpftraceFile, rate.perFire, seconds);
        await sleep(200);
        return run;
      },
      async (round) => {
        // The store's cost: the same server with it off, right beside each run with it on (order flips each round).
        const off = async () => {
          storeOff.push(await serverRun(rate.perFire, seconds, { BPFTRACE_MCP_STATE_DIR: "off" }));
          await sleep(200);
        };
        if (round % 2 === 1) await off();
        const run = await serverRun(rate.perFire, seconds);
        await sleep(200);
        if (round % 2 === 0) await off();
        return run;
      },
    );
    results.push({
      name: rate.name,
      perFire: rate.perFire,
      program: floodProgram(rate.perFire),
      baseline: summarizeSide(baseline),
      subject: summarizeSide(subject),
      ratio: summarize(pairedRatios(subject.map((run) => run.linesPerSecond), baseline.map((run) => run.linesPerSecond))),
      storeOff: summarizeSide(storeOff),
      storeRatio: summarize(pairedRatios(subject.map((run) => run.linesPerSecond), storeOff.map((run) => run.linesPerSecond))),
      serverDropped: subject.reduce((sum, run) => sum + run.linesDropped, 0),
      missingEnds: subject.reduce((sum, run) => sum + run.missingEnd, 0),
      runs: { baseline, subject, storeOff },
    });
  }
  return results;
}
