// The machine's own share of figure 3: a light process next to the server, at the same priority, that
// wakes every 10 ms to do a fixed amount of computation (about 1 ms on an idle core, about what a
// request costs the server). It records how late each wake-up came, how long the work took, and the
// CPU it ran on. Under the same floods, its delay and its slower work are what any process here
// suffers; the server's latency beyond them is the server's own. Work that takes longer on one CPU
// than on the others shows time the scheduler cannot see: interrupt handlers (the floods' BPF
// programs) run on that CPU at the expense of whatever task is there.
// Usage: node bystander.mjs <seconds>; prints one JSON line.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import process from "node:process";
import { quantile } from "./stats.mjs";

const seconds = Number(process.argv[2] ?? 3);
const PERIOD_MS = 10;
// Iterations of the loop below that take about 1 ms on an idle core of the machines we bench on.
const WORK_ITERATIONS = 200_000;
const lateness = [];
const done = [];
const workByCpu = new Map();
const started = performance.now();
let sink = 0;

/** The CPU this process last ran on (field 39 of /proc/self/stat), or -1 where there is no /proc. */
function currentCpu() {
  try {
    const stat = readFileSync("/proc/self/stat", "latin1");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[36] ?? -1);
  } catch {
    return -1;
  }
}

function work() {
  let value = sink;
  for (let index = 0; index < WORK_ITERATIONS; index += 1) value = (value * 31 + index) | 0;
  sink = value;
}

function tick() {
  const armed = performance.now();
  setTimeout(() => {
    const woke = performance.now();
    work();
    const finished = performance.now();
    lateness.push(Math.max(0, woke - armed - PERIOD_MS));
    done.push(Math.max(0, finished - armed - PERIOD_MS));
    const cpu = currentCpu();
    const times = workByCpu.get(cpu) ?? [];
    times.push(finished - woke);
    workByCpu.set(cpu, times);
    if (performance.now() - started < seconds * 1000) tick();
    else report();
  }, PERIOD_MS);
}

function report() {
  const perCpu = {};
  for (const [cpu, times] of [...workByCpu].sort(([a], [b]) => a - b)) perCpu[cpu] = { samples: times.length, workP50: quantile(times, 0.5) };
  const all = [...workByCpu.values()].flat();
  process.stdout.write(
    `${JSON.stringify({
      samples: lateness.length,
      // How late the wake-ups came (p50, p99, max), as before the work was timed.
      p50: quantile(lateness, 0.5),
      p99: quantile(lateness, 0.99),
      max: Math.max(...lateness),
      // From when the wake-up was due to when its work was done: comparable to a request's latency.
      doneP99: quantile(done, 0.99),
      workP50: quantile(all, 0.5),
      workByCpu: perCpu,
    })}\n`,
  );
}

tick();
