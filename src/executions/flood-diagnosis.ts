// Says what went wrong when a trace printed more than anyone can read: most lines dropped, events
// lost by bpftrace, or output that is mostly some bpftrace's own activity, with the usual fix.

import type { MapsPrint } from "../bpftrace/maps.js";
import type { Execution } from "./execution.js";

export interface FloodDiagnosis {
  /** Share of the lines sampled (the page, or the top map entries) that name a bpftrace process; null when none were sampled. */
  bpftraceShare: number | null;
  /** One sentence per problem found, each with its fix; empty when there is none. */
  problems: string[];
}

// Dropped lines above this share of all lines make the output a sample, not the answer.
const DROPPED_SHARE = 0.5;
const BPFTRACE_SHARE = 0.5;
const MIN_SAMPLE = 20;
const BPFTRACE_WORD = /\bbpftrace\b/;

/** What `execution`'s output says about itself, judged on `sample` (lines a reader got) and the maps shown. */
export function diagnoseFlood(execution: Execution, sample: readonly string[], prints: readonly MapsPrint[]): FloodDiagnosis {
  const problems: string[] = [];
  const total = execution.ring.linesTotal;
  const dropped = execution.ring.linesDropped;
  if (total > 0 && dropped / total > DROPPED_SHARE) {
    problems.push(
      `${dropped} of ${total} lines were dropped (only the last ${total - dropped} are kept): count in a map instead of printf per event (@[comm, pid] = count()), or filter the probe (/pid == 1234/).`,
    );
  }
  if (execution.lostEvents > 0) {
    problems.push(`bpftrace lost ${execution.lostEvents} events (its buffer overflowed): print less per event, or aggregate in maps.`);
  }
  const share = bpftraceShare(sample, prints);
  if (share !== null && share > BPFTRACE_SHARE) {
    problems.push(`${Math.round(share * 100)}% of this output is bpftrace processes' own activity (traces run outside this server): add a filter such as /comm != "bpftrace"/.`);
  }
  return { bpftraceShare: share, problems };
}

function bpftraceShare(sample: readonly string[], prints: readonly MapsPrint[]): number | null {
  let seen = 0;
  let matched = 0;
  for (const line of sample) {
    if (line.trim() === "") continue;
    seen += 1;
    if (BPFTRACE_WORD.test(line)) matched += 1;
  }
  // Counted maps: the share of the counts whose key names bpftrace.
  let counted = 0;
  let countedBpftrace = 0;
  for (const print of prints) {
    for (const map of print.maps) {
      if (map.kind !== "value") continue;
      for (const entry of map.entries) {
        counted += Math.abs(entry.value);
        if (entry.key.some((part) => typeof part === "string" && BPFTRACE_WORD.test(part))) countedBpftrace += Math.abs(entry.value);
      }
    }
  }
  if (counted > 0 && seen < MIN_SAMPLE) return countedBpftrace / counted;
  return seen >= MIN_SAMPLE ? matched / seen : null;
}
