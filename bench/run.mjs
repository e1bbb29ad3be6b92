// `npm run bench`: measures the built server against baselines run alternately in the same run,
// prints a markdown table and writes bench/results/latest.json. `--short` is the CI mode.
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import process from "node:process";
import { findBpftrace } from "./lib/bpftrace-direct.mjs";
import { measureColdStart } from "./lib/cold-start.mjs";
import { measureHttp } from "./lib/http.mjs";
import { measureContextCost } from "./lib/context-cost.mjs";
import { describeMachine, machineLine } from "./lib/machine.mjs";
import { measureMemory } from "./lib/memory.mjs";
import { measureProbeSearch } from "./lib/probe-search.mjs";
import { killAllOwned } from "./lib/processes.mjs";
import { farOffLegend, renderTable } from "./lib/report.mjs";
import { measureResponsiveness } from "./lib/responsiveness.mjs";
import { measureStartLatency } from "./lib/start-latency.mjs";
import { measureStore } from "./lib/store.mjs";
import { measureThroughput } from "./lib/throughput.mjs";
import { farOff, judgeTargets } from "./lib/verdicts.mjs";

const RESULTS_DIR = fileURLToPath(new URL("./results/", import.meta.url));
const FIGURES = ["start", "throughput", "responsiveness", "probes", "memory", "cold-start", "http", "store", "context"];

/** Iterations per mode: --short must finish in well under 4 minutes on a 2-core VM. */
const PLANS = {
  full: { startRuns: 9, throughputRuns: 7, throughputSeconds: 5, responsivenessRuns: 5, responsivenessSeconds: 6, probeRuns: 7, churn: 2_000, coldStartRuns: 9, httpRuns: 5, httpLatencyRequests: 300, httpSeconds: 5, storeRuns: 7, storeExecutions: 10_000, storeLines: 1_000, storeCalls: 300 },
  short: { startRuns: 3, throughputRuns: 2, throughputSeconds: 3, responsivenessRuns: 3, responsivenessSeconds: 4, probeRuns: 3, churn: 200, coldStartRuns: 3, httpRuns: 2, httpLatencyRequests: 150, httpSeconds: 3, storeRuns: 3, storeExecutions: 1_000, storeLines: 1_000, storeCalls: 300 },
};
const RATES = [
  { name: "200k", perFire: 20 },
  { name: "1M", perFire: 100 },
];

function parseArgs(argv) {
  const options = { short: false, only: null };
  for (const arg of argv) {
    if (arg === "--short") options.short = true;
    else if (arg.startsWith("--only=")) options.only = arg.slice("--only=".length).split(",");
    else if (arg === "--help") {
      process.stdout.write(`usage: node bench/run.mjs [--short] [--only=${FIGURES.join(",")}]\n`);
      process.exit(0);
    } else throw new Error(`unknown argument '${arg}' (try --help)`);
  }
  for (const figure of options.only ?? []) if (!FIGURES.includes(figure)) throw new Error(`unknown figure '${figure}': ${FIGURES.join(", ")}`);
  return options;
}

const log = (message) => process.stderr.write(`· ${message}\n`);

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (process.geteuid?.() !== 0) throw new Error("the bench runs bpftrace directly as a baseline: run it as root");
  const plan = options.short ? PLANS.short : PLANS.full;
  const wanted = (figure) => options.only === null || options.only.includes(figure);
  const bpftraceFile = findBpftrace();
  const started = performance.now();
  const machine = await describeMachine(bpftraceFile);
  process.stdout.write(`Machine: ${machineLine(machine)}\nMode: ${options.short ? "--short" : "full"}\n\n`);

  const results = {};
  const seconds = {};
  const measure = async (figure, key, action) => {
    if (!wanted(figure)) return;
    const figureStarted = performance.now();
    results[key] = await action();
    seconds[key] = (performance.now() - figureStarted) / 1000;
  };
  await measure("start", "startLatency", () => measureStartLatency({ runs: plan.startRuns, bpftraceFile, log }));
  await measure("throughput", "throughput", () =>
    measureThroughput({ runs: plan.throughputRuns, seconds: plan.throughputSeconds, bpftraceFile, rates: RATES, log }),
  );
  await measure("responsiveness", "responsiveness", () => measureResponsiveness({ runs: plan.responsivenessRuns, seconds: plan.responsivenessSeconds, log }));
  await measure("probes", "probeSearch", () => measureProbeSearch({ runs: plan.probeRuns, bpftraceFile, log }));
  await measure("memory", "memory", () => measureMemory({ churn: plan.churn, log }));
  await measure("cold-start", "coldStart", () => measureColdStart({ runs: plan.coldStartRuns, log }));
  await measure("http", "http", () => measureHttp({ runs: plan.httpRuns, latencyRequests: plan.httpLatencyRequests, seconds: plan.httpSeconds, log }));
  await measure("store", "store", () => measureStore({ runs: plan.storeRuns, executions: plan.storeExecutions, linesEach: plan.storeLines, calls: plan.storeCalls, log }));
  await measure("context", "contextCost", () => measureContextCost({ log }));
  const totalSeconds = (performance.now() - started) / 1000;

  const verdicts = judgeTargets(results);
  const problems = farOff(results);
  process.stdout.write(`${renderTable(results)}\n\n`);
  process.stdout.write(`Took ${totalSeconds.toFixed(0)} s (${Object.entries(seconds).map(([key, value]) => `${key} ${value.toFixed(0)} s`).join(", ")}).\n`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}latest.json`;
  writeFileSync(file, `${JSON.stringify({ mode: options.short ? "short" : "full", at: new Date().toISOString(), machine, plan, seconds, totalSeconds, verdicts, farOff: problems, results }, null, 2)}\n`);
  process.stdout.write(`Wrote ${file}\n`);
  if (options.short) {
    if (problems.length > 0) {
      process.stdout.write(`\nFAR OFF (fails --short; limits: ${farOffLegend()}):\n${problems.map((problem) => `- ${problem}`).join("\n")}\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(`\nNo figure is far off (limits: ${farOffLegend()}).\n`);
    }
  }
}

// ^C: end every process the bench started before leaving.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    log(`${signal}: stopping everything the bench started`);
    void killAllOwned().finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 2;
} finally {
  const killed = await killAllOwned();
  if (killed.length > 0) log(`killed ${killed.length} process(es) left behind: ${killed.join(", ")}`);
}
