// Turns the results into the printed table (markdown, so it can be pasted into the README).
import { FAR_OFF, TARGETS, floodP99, isFlat, judgeTargets, referenceFloodP99, serverLost, typicalFloodP99 } from "./verdicts.mjs";

/** "12.3 (10.1–15.0)": a median with its min–max spread. */
export function spread(summary, digits = 0, scale = 1) {
  if (!summary || !Number.isFinite(summary.median)) return "n/a";
  const format = (value) => (value * scale).toFixed(digits);
  return summary.n > 1 ? `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})` : format(summary.median);
}

/** Like `spread`, with explicit signs: "+6 (−3…+23)". */
export function signedSpread(summary, digits = 0) {
  if (!summary || !Number.isFinite(summary.median)) return "n/a";
  const format = (value) => `${value < 0 ? "−" : "+"}${Math.abs(value).toFixed(digits)}`;
  return summary.n > 1 ? `${format(summary.median)} (${format(summary.min)}…${format(summary.max)})` : format(summary.median);
}

const verdictText = (passed) => (passed === undefined ? "—" : passed ? "PASS" : "FAIL");

function startRows(start, verdicts) {
  return [
    [
      "1",
      "Start latency: exec_program → first line",
      `${spread(start.subjectMs)} ms`,
      `${spread(start.baselineMs)} ms bpftrace direct, same text`,
      `${spread(start.ratio, 2)}×; ${signedSpread(start.overheadMs)} ms`,
      TARGETS.startLatency,
      verdictText(verdicts.startLatency),
    ],
    ...(start.gateRatio
      ? [[
          "1b",
          "Gate cost: exec_program → first line, against the program as written",
          `${spread(start.subjectMs)} ms`,
          `${spread(start.baselineUnguardedMs)} ms bpftrace direct, without filter, marker or guard`,
          `${spread(start.gateRatio, 2)}×; ${signedSpread(start.gateOverheadMs)} ms`,
          TARGETS.gateCost,
          verdictText(verdicts.gateCost),
        ]]
      : []),
  ];
}

function throughputRows(entries, verdicts) {
  return entries.map((entry) => [
    "2",
    `Throughput, ${entry.name} printf/s attempted (lines per second of tracing)`,
    `${spread(entry.subject.linesPerSecond, 0, 1e-3)}k lines/s; lost by server: ${serverLost(entry)}; bpftrace lost ${spread(entry.subject.bpftraceLost, 0, 1e-3)}k/run`,
    `${spread(entry.baseline.linesPerSecond, 0, 1e-3)}k lines/s minimal reader; bpftrace lost ${spread(entry.baseline.bpftraceLost, 0, 1e-3)}k/run`,
    `${spread(entry.ratio, 2)}×`,
    TARGETS.throughput,
    verdictText(verdicts[`throughput ${entry.name}`]),
  ]);
}

function storeThroughputRows(entries, verdicts) {
  return entries
    .filter((entry) => entry.storeRatio)
    .map((entry) => [
      "2b",
      `Throughput with the store on (a running trace's newest 10,000 lines written each second, every kept line at its end), ${entry.name} printf/s attempted`,
      `${spread(entry.subject.linesPerSecond, 0, 1e-3)}k lines/s, store on; lost by server: ${serverLost(entry)}`,
      `${spread(entry.storeOff.linesPerSecond, 0, 1e-3)}k lines/s, the same server with BPFTRACE_MCP_STATE_DIR=off`,
      `${spread(entry.storeRatio, 2)}×`,
      TARGETS.storeThroughput,
      verdictText(verdicts[`storeThroughput ${entry.name}`]),
    ]);
}

function storeRows(store, verdicts) {
  const { startup, latency } = store;
  const pair = (side) => `${side.p50.toFixed(1)} / ${side.p99.toFixed(1)}`;
  return [
    [
      "8",
      `Store start-up: ${store.executions.toLocaleString("en")} stored executions, ${(store.outputBytes / 2 ** 30).toFixed(2)} GiB of output, against an empty store`,
      `initialize ${spread(startup.fullInitializeMs)} ms; first list_executions answered ${spread(startup.fullFirstListMs)} ms after spawn`,
      `empty: ${spread(startup.emptyInitializeMs)} ms; ${spread(startup.emptyFirstListMs)} ms`,
      `${spread(startup.initializeRatio, 2)}×; ${spread(startup.firstListRatio, 2)}×`,
      TARGETS.storeStartup,
      verdictText(verdicts.storeStartup),
    ],
    [
      "8",
      "Stored executions, p50 / p99 ms: get_result (100 lines at a random offset), list_executions (20 at a random offset)",
      `get_result ${pair(latency.get.stored)}; list_executions ${pair(latency.list.stored)}`,
      `live (in memory): get_result ${pair(latency.get.live)}; list_executions ${pair(latency.list.live)} (${latency.list.liveExecutions} executions, store off)`,
      `p99 ${(latency.get.stored.p99 / latency.get.live.p99).toFixed(2)}×; ${(latency.list.stored.p99 / latency.list.live.p99).toFixed(2)}×`,
      TARGETS.storeLatency,
      verdictText(verdicts.storeLatency),
    ],
  ];
}

function responsivenessRows(result, verdicts) {
  const { idle, flood } = result;
  const median = (summary, digits = 1) => (summary && Number.isFinite(summary.median) ? summary.median.toFixed(digits) : "?");
  const bystander = (side) => median(side.bystanderP99Ms);
  // Where its fixed work ran slower than idle, the CPU lost time to something the scheduler does not see.
  const perCpu = Object.entries(flood.bystanderWorkByCpu ?? {})
    .map(([cpu, work]) => `CPU ${cpu} ${median(work)}`)
    .join(", ");
  const pair = (side, kind) => `${side[kind].pooled.p50.toFixed(1)} / ${side[kind].pooled.p99.toFixed(1)}`;
  const referencePair = (side) =>
    side.reference ? `; reference server (server-everything, same windows): echo ${pair(side.reference, "call")}, tools/list ${pair(side.reference, "toolsList")}` : "";
  const reference = referenceFloodP99(result);
  return [
    [
      "3",
      `Responsiveness, p50 / p99 ms, ${result.floods} floods (${(result.floodLinesPerSecond / 1e3).toFixed(0)}k lines/s kept in all)`,
      `get_result ${pair(flood, "getResult")}; tools/list ${pair(flood, "toolsList")}${referencePair(flood)}; machine ${(flood.machineBusy.median * 100).toFixed(0)}% busy, server waited for a CPU ${(flood.runQueueWaitShare.median * 100).toFixed(0)}% of the time`,
      `idle server: get_result ${pair(idle, "getResult")}; tools/list ${pair(idle, "toolsList")}${referencePair(idle)}; a bystander process (wakes every 10 ms for a fixed ~1 ms of work): wake-ups p99 late by ${bystander(idle)} ms idle, ${bystander(flood)} ms under the floods; wake-to-done p99 ${median(idle.bystanderDoneP99Ms)} and ${median(flood.bystanderDoneP99Ms)} ms; its work took ${median(idle.bystanderWorkP50Ms, 2)} ms idle, under the floods ${perCpu || "?"} ms`,
      `p99 ${floodP99(result).toFixed(1)} ms (median window ${typicalFloodP99(result).toFixed(1)} ms)${reference === null ? "" : `; reference server p99 ${reference.toFixed(1)} ms`}`,
      TARGETS.responsiveness,
      verdictText(verdicts.responsiveness),
    ],
  ];
}

function probeRows(probes, verdicts) {
  const worst = probes.synthetic.filters.reduce((a, b) => (b.ms.median > a.ms.median ? b : a));
  return [
    [
      "4",
      `Probe search cold: first list_probes '${probes.filter}' on a fresh server`,
      `${spread(probes.coldMs)} ms`,
      `${spread(probes.baselineMs)} ms bpftrace -l`,
      `${spread(probes.coldRatio, 2)}×`,
      TARGETS.probeSearchCold,
      verdictText(verdicts.probeSearchCold),
    ],
    [
      "4",
      `Probe search warm: cached list (${probes.matches.server} matches); matchProbes over ${probes.synthetic.probes / 1000}k names`,
      `list_probes ${spread(probes.warmMs, 1)} ms; matchProbes worst filter '${worst.filter}' ${spread(worst.ms, 2)} ms`,
      `cold call ${spread(probes.coldMs)} ms`,
      `warm/cold ${probes.warmOverCold.toFixed(2)}×`,
      TARGETS.probeSearchWarm,
      verdictText(verdicts.probeSearchWarm),
    ],
  ];
}

function memoryRows(memory, verdicts) {
  const { churn } = memory;
  return [
    [
      "5",
      `Memory (RSS after forced GC): idle; 8 × ${memory.withFullRings.linesPerRing}-line rings of 200-char lines; ${churn.executions} executions churned`,
      `${memory.withFullRings.rssMb.toFixed(0)} MB with full rings (heap ${memory.withFullRings.heapUsedMb.toFixed(0)} MB); ${churn.afterAll.rssMb.toFixed(0)} MB after ${churn.executions}`,
      `${memory.storeOff ? `store off: ${memory.storeOff.withFullRings.rssMb.toFixed(0)} MB with full rings, idle ${memory.storeOff.idle.rssMb.toFixed(0)} MB; ` : ""}idle ${memory.idle.rssMb.toFixed(0)} MB (heap ${memory.idle.heapUsedMb.toFixed(0)} MB); after 50: ${churn.after50.rssMb.toFixed(0)} MB`,
      `${memory.storeOff ? `store ${signed(memory.storeCostMb)} MB; ` : ""}50→${churn.executions}: RSS ${signed(churn.rssGrowthMb)} MB, heap ${signed(churn.heapGrowthMb)} MB; last RSS vs first half's peak ${signed(churn.rssAboveFirstHalfPeakMb)} MB, outside V8's heap ${signed(churn.outsideHeapAboveFirstHalfPeakMb)} MB (${isFlat(churn) ? "flat" : "growing"})`,
      TARGETS.memory,
      verdictText(verdicts.memory),
    ],
  ];
}

function coldStartRows(cold, verdicts) {
  return [
    ["6", "Cold start: spawn → initialize result", `${spread(cold.subjectMs)} ms`, `${spread(cold.baselineMs)} ms server-everything`, `${spread(cold.ratio, 2)}×`, TARGETS.coldStart, verdictText(verdicts.coldStart)],
  ];
}

function httpRows(http, verdicts) {
  const ms = (summary) => summary.median.toFixed(1);
  const { stdio, http: over } = http.latency;
  return [
    [
      "7",
      "HTTP latency, one client (p50 / p99)",
      `get_result ${ms(over.getResult.p50)} / ${ms(over.getResult.p99)} ms; tools/list ${ms(over.toolsList.p50)} / ${ms(over.toolsList.p99)} ms`,
      `same server over stdio: ${ms(stdio.getResult.p50)} / ${ms(stdio.getResult.p99)} ms; ${ms(stdio.toolsList.p50)} / ${ms(stdio.toolsList.p99)} ms`,
      "—",
      "—",
      "—",
    ],
    ["7", `HTTP ping, ${http.clients} concurrent sessions`, `${spread(http.ping.ours)} req/s`, `${spread(http.ping.reference)} req/s server-everything (Streamable HTTP)`, `${spread(http.ping.ratio, 2)}×`, TARGETS.http, verdictText(verdicts.http)],
    ["7", `HTTP tool call, ${http.clients} concurrent sessions`, `${spread(http.tool.ours)} req/s get_result`, `${spread(http.tool.reference)} req/s echo, server-everything`, `${spread(http.tool.ratio, 2)}×`, TARGETS.http, verdictText(verdicts.http)],
  ];
}

function contextRows(context, verdicts) {
  const count = (value) => value.toLocaleString("en-US");
  return [
    ["9", "Context cost per turn: tools/list + instructions", `${count(context.perTurn)} chars`, "21,541 before issue 16 (same measure)", "—", "≤ 8,000 chars", verdictText(verdicts.contextPerTurn)],
    ...context.questions.map((question) => [
      "9",
      `Context cost per answer: "${question.question}" (${question.example ?? "no example"}, ${context.traceSeconds} s trace)`,
      `${question.calls.length} calls, ${count(question.chars)} chars (${question.calls.map((call) => `${call.tool} ${count(call.chars)}`).join(", ")}); ${question.right ? "right" : "WRONG"}: ${question.detail}`,
      "—",
      "—",
      "≤ 4 calls, ≤ 10,000 chars, right",
      verdictText(verdicts[`context ${question.workload}`]),
    ]),
  ];
}

function signed(value) {
  return `${value < 0 ? "−" : "+"}${Math.abs(value).toFixed(1)}`;
}

/** The results as a markdown table, one row per figure, with PASS/FAIL against the real targets. */
export function renderTable(results) {
  const verdicts = judgeTargets(results);
  const rows = [
    ...(results.startLatency ? startRows(results.startLatency, verdicts) : []),
    ...(results.throughput ? throughputRows(results.throughput, verdicts) : []),
    ...(results.throughput ? storeThroughputRows(results.throughput, verdicts) : []),
    ...(results.responsiveness ? responsivenessRows(results.responsiveness, verdicts) : []),
    ...(results.probeSearch ? probeRows(results.probeSearch, verdicts) : []),
    ...(results.memory ? memoryRows(results.memory, verdicts) : []),
    ...(results.coldStart ? coldStartRows(results.coldStart, verdicts) : []),
    ...(results.http ? httpRows(results.http, verdicts) : []),
    ...(results.store ? storeRows(results.store, verdicts) : []),
    ...(results.contextCost ? contextRows(results.contextCost, verdicts) : []),
  ];
  const header = ["#", "Figure", "Server (median (min–max))", "Baseline, same run", "Ratio", "Target", "Verdict"];
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** The far-off limits, for the --short footer. */
export function farOffLegend() {
  return Object.entries(FAR_OFF)
    .map(([name, limit]) => `${name} ${limit}`)
    .join("; ");
}
