// Figure 4: list_probes cold (first call on a fresh server) against `bpftrace -l FILTER`, warm
// (cached list) against cold, and matchProbes alone over a synthetic list of 100k probe names.
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import process from "node:process";
import { listProbesDirect } from "./bpftrace-direct.mjs";
import { startServer, structured } from "./mcp-server.mjs";
import { alternate, pairedRatios, summarize } from "./stats.mjs";

export const SEARCH_FILTER = "tracepoint:syscalls:*open*";
const WARM_CALLS = 15;
const MATCH_REPEATS = 30;
const MATCH_TIMING = fileURLToPath(new URL("./match-probes-timing.mjs", import.meta.url));

/** matchProbes over 100k synthetic names, timed in a fresh node process (see match-probes-timing.mjs). */
async function timeMatchProbes(repeats) {
  const { stdout } = await promisify(execFile)(process.execPath, [MATCH_TIMING, String(repeats)], { timeout: 120_000 });
  return JSON.parse(stdout);
}

async function timedCall(server, args) {
  const started = performance.now();
  const result = structured(await server.call("list_probes", args));
  return { ms: performance.now() - started, count: result.count };
}

/**
 * Cold: each round starts a fresh server and times its first list_probes call, alternating with
 * `bpftrace -l FILTER`. Warm: once the server has cached the full list, repeated calls.
 */
export async function measureProbeSearch({ runs, bpftraceFile, log }) {
  log(`probe search: ${runs} × (bpftrace -l, fresh server's first list_probes), then warm calls; matchProbes at 100k`);
  const warm = [];
  let count = { direct: 0, server: 0 };
  const { baseline, subject } = await alternate(
    runs,
    async () => {
      const direct = await listProbesDirect(bpftraceFile, SEARCH_FILTER);
      count.direct = direct.probes;
      return direct.elapsedMs;
    },
    async () => {
      const server = await startServer();
      try {
        const cold = await timedCall(server, { filter: SEARCH_FILTER });
        count.server = cold.count;
        // The first call warms the full list in the background; give it time to land.
        await sleep(1_000);
        for (let index = 0; index < WARM_CALLS; index += 1) warm.push((await timedCall(server, { filter: SEARCH_FILTER })).ms);
        return cold.ms;
      } finally {
        await server.close();
      }
    },
  );
  const synthetic = await timeMatchProbes(MATCH_REPEATS);
  const warmSummary = summarize(warm);
  return {
    filter: SEARCH_FILTER,
    matches: count,
    baselineMs: summarize(baseline),
    coldMs: summarize(subject),
    coldRatio: summarize(pairedRatios(subject, baseline)),
    warmMs: warmSummary,
    warmOverCold: warmSummary.median / summarize(subject).median,
    synthetic: { ...synthetic, worstMedianMs: Math.max(...synthetic.filters.map((entry) => entry.ms.median)) },
  };
}
