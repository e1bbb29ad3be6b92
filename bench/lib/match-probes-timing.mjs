// Run as its own process by the probe-search figure, so the timing sees a clean heap rather than
// the bench's (which holds millions of lines read back by the throughput figure).
// Usage: node match-probes-timing.mjs <repeats>; prints one JSON line.
import { performance } from "node:perf_hooks";
import process from "node:process";
import { matchProbes } from "../../dist/bpftrace/parse-probes.js";
import { summarize } from "./stats.mjs";
import { SYNTHETIC_FILTERS, syntheticProbes } from "./synthetic-probes.mjs";

const WARM_UP_CALLS = 5;

/** Warm timings of matchProbes per filter: unmeasured calls first, then `repeats` measured ones. */
export function timeFilters(probes, filters, repeats) {
  return filters.map((filter) => {
    for (let index = 0; index < WARM_UP_CALLS; index += 1) matchProbes(probes, filter);
    const timings = [];
    let matched = 0;
    for (let index = 0; index < repeats; index += 1) {
      const started = performance.now();
      matched = matchProbes(probes, filter).length;
      timings.push(performance.now() - started);
    }
    return { filter, matched, ms: summarize(timings) };
  });
}

const probes = syntheticProbes();
process.stdout.write(`${JSON.stringify({ probes: probes.length, filters: timeFilters(probes, SYNTHETIC_FILTERS, Number(process.argv[2] ?? 30)) })}\n`);
