// The machine's own share of figure 3: a light process next to the server, at the same priority, that
// wakes every 10 ms to do 1 ms of work (about what a request costs the server) and records how late
// each wake-up came. Under the same floods, its delay is what any process here would suffer; the
// server's latency beyond it is the server's own. Usage: node bystander.mjs <seconds>; prints one JSON line.
import { performance } from "node:perf_hooks";
import process from "node:process";

const seconds = Number(process.argv[2] ?? 3);
const PERIOD_MS = 10;
const WORK_MS = 1;
const lateness = [];
const started = performance.now();

function tick() {
  const armed = performance.now();
  setTimeout(() => {
    lateness.push(performance.now() - armed - PERIOD_MS);
    const busyUntil = performance.now() + WORK_MS;
    while (performance.now() < busyUntil);
    if (performance.now() - started < seconds * 1000) tick();
    else report();
  }, PERIOD_MS);
}

function report() {
  const sorted = lateness.map((ms) => Math.max(0, ms)).sort((a, b) => a - b);
  const at = (share) => sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? Number.NaN;
  process.stdout.write(`${JSON.stringify({ samples: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN })}\n`);
}

tick();
