// Preloaded into the server by figures that look inside it (node --expose-gc --import this file).
// It watches event-loop delay and garbage-collection pauses; on SIGUSR2 it optionally collects
// garbage, then writes memory, CPU time and what it saw since the previous report to BENCH_PROBE_FILE.
import { writeFileSync } from "node:fs";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import process from "node:process";

const reportFile = process.env.BENCH_PROBE_FILE;
const collect = process.env.BENCH_PROBE_GC === "1";
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();
let gc = { count: 0, totalMs: 0, maxMs: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.count += 1;
    gc.totalMs += entry.duration;
    gc.maxMs = Math.max(gc.maxMs, entry.duration);
  }
}).observe({ entryTypes: ["gc"] });
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
    gcPauses: gc,
  };
  loopDelay.reset();
  gc = { count: 0, totalMs: 0, maxMs: 0 };
  if (reportFile) writeFileSync(reportFile, JSON.stringify(report));
});
