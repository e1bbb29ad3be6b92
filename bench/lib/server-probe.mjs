// Preloaded into the server by figures that look inside it (node --expose-gc --import this file).
// On SIGUSR2 it optionally collects garbage, then writes memory, CPU time and event-loop delay
// since the previous report to BENCH_PROBE_FILE. Nothing runs until the signal arrives.
import { writeFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import process from "node:process";

const reportFile = process.env.BENCH_PROBE_FILE;
const collect = process.env.BENCH_PROBE_GC === "1";
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();
process.on("SIGUSR2", () => {
  if (collect) {
    globalThis.gc?.();
    globalThis.gc?.();
  }
  const ms = (ns) => ns / 1e6;
  const report = {
    at: Date.now(),
    memory: process.memoryUsage(),
    cpu: process.cpuUsage(),
    loopDelayMs: { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max), count: loopDelay.count },
  };
  loopDelay.reset();
  if (reportFile) writeFileSync(reportFile, JSON.stringify(report));
});
