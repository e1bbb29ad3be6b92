// Figure 5: the server's resident memory idle, holding 8 full output rings (with its store, and
// beside it the same with the store off), and after executions have come and gone by the hundred
// (a leak shows as growth between the 50th and the last).
import { setTimeout as sleep } from "node:timers/promises";
import { startServer, structured, waitForEnd } from "./mcp-server.mjs";

const BATCH = 4;
const FULL_RUNS = 8;
const RING_LINES = 10_000;
const LINE_CHARS = 200;
// 60 lines per millisecond (200 characters each) until 250 ticks have passed: ~15k lines, of which the ring keeps the last 10k.
const FULL_PROGRAM = `interval:ms:1 { $i = 0; while ($i < 60) { printf("%05d ${"x".repeat(LINE_CHARS - 6)}\\n", $i); $i++; } @ticks++; if (@ticks >= 250) { exit(); } }\n`;
const SHORT_PROGRAM = `BEGIN { printf("x\\n"); exit(); }\n`;
// Past one retention period and one sweep (both 1 s in the churn server), with margin.
const SWEEP_WAIT_MS = 2_500;

/** Runs `program` `count` times, BATCH at once, each to its end; returns the final results. */
async function runBatches(server, program, count, timeout) {
  const finished = [];
  for (let done = 0; done < count; done += BATCH) {
    const batch = Math.min(BATCH, count - done);
    const started = await Promise.all(Array.from({ length: batch }, () => server.call("exec_program", { program, timeout })));
    const ended = await Promise.all(started.map((result) => waitForEnd(server, structured(result).execution_id)));
    finished.push(...ended);
  }
  return finished;
}

/** RSS (from /proc) and V8 heap after two forced garbage collections, in MB. */
async function settled(server) {
  const report = await server.readProbe();
  const mb = (bytes) => bytes / 1024 / 1024;
  return { rssMb: server.rssKb() / 1024, heapUsedMb: mb(report.memory.heapUsed), heapTotalMb: mb(report.memory.heapTotal), externalMb: mb(report.memory.external) };
}

/**
 * Two servers, both preloaded with a probe that forces GC before each reading. The first keeps
 * executions for a day and holds 8 full rings; the second forgets them after 1 s and churns.
 */
export async function measureMemory({ churn, log }) {
  log(`memory: idle, ${FULL_RUNS} full ${RING_LINES}-line rings of ${LINE_CHARS}-char lines, then ${churn} executions in batches of ${BATCH}`);
  /** A server keeping executions for a day: its RSS idle, then holding FULL_RUNS full rings. */
  const hold = async (env) => {
    const holding = await startServer({ probe: "gc", env: { BPFTRACE_MCP_RETENTION_SECONDS: "86400", BPFTRACE_MCP_RING_LINES: String(RING_LINES), ...env } });
    try {
      await sleep(500);
      const idleReading = await settled(holding);
      const runs = await runBatches(holding, FULL_PROGRAM, FULL_RUNS, 30);
      return { idle: idleReading, full: { ...(await settled(holding)), rings: runs.map((run) => run.lines_total - run.lines_dropped) } };
    } finally {
      await holding.close();
    }
  };
  // The same with the store off: the baseline for what the store's thread (its V8 isolate, SQLite) adds.
  const storeOff = await hold({ BPFTRACE_MCP_STATE_DIR: "off" });
  const { idle, full: fullWithRings } = await hold({});
  const { rings: fullRings, ...full } = fullWithRings;

  const churning = await startServer({ probe: "gc", env: { BPFTRACE_MCP_RETENTION_SECONDS: "1", BPFTRACE_MCP_CLEANUP_INTERVAL_SECONDS: "1" } });
  let churnIdle;
  const checkpoints = [];
  let failed = 0;
  let remembered;
  try {
    await sleep(500);
    churnIdle = await settled(churning);
    let done = 0;
    // Readings after the 50th execution, then at each quarter: growth that stops is warm-up, growth that keeps on is a leak.
    for (const target of [...new Set([50, ...[1, 2, 3, 4].map((quarter) => Math.round((churn * quarter) / 4))])].filter((count) => count >= 50).sort((a, b) => a - b)) {
      const runs = await runBatches(churning, SHORT_PROGRAM, target - done, 10);
      failed += runs.filter((run) => run.status !== "completed").length;
      done = target;
      await sleep(SWEEP_WAIT_MS);
      checkpoints.push({ executions: done, ...(await settled(churning)) });
    }
    remembered = structured(await churning.call("list_executions", {})).executions?.length ?? null;
  } finally {
    await churning.close();
  }
  const after50 = checkpoints[0];
  const afterAll = checkpoints[checkpoints.length - 1];
  // RSS follows V8's committed heap, which grows and shrinks its young generation with the load
  // (measured over 3,000 executions: readings swing by up to 15 MB around a plateau, reached after
  // 500 executions in one run and after 1,500 in another). A leak makes every reading a new high; a
  // plateau keeps the last one near the highest of the first half. A leak of JavaScript objects
  // shows in the used heap; one of buffers or native memory in the RSS outside V8's heap, which
  // the heap's sizing does not move.
  const firstHalf = checkpoints.filter((checkpoint) => checkpoint.executions <= churn / 2);
  const firstHalfPeakRssMb = Math.max(...firstHalf.map((checkpoint) => checkpoint.rssMb));
  const outsideHeapMb = (checkpoint) => checkpoint.rssMb - checkpoint.heapTotalMb;
  return {
    fullProgram: FULL_PROGRAM,
    idle,
    withFullRings: { ...full, rings: fullRings, linesPerRing: Math.min(...fullRings) },
    storeOff: { idle: storeOff.idle, withFullRings: storeOff.full },
    storeCostMb: full.rssMb - storeOff.full.rssMb,
    churn: {
      executions: churn,
      idle: churnIdle,
      after50,
      afterAll,
      checkpoints,
      notCompleted: failed,
      stillListed: remembered,
      rssGrowthMb: afterAll.rssMb - after50.rssMb,
      heapGrowthMb: afterAll.heapUsedMb - after50.heapUsedMb,
      rssAboveFirstHalfPeakMb: afterAll.rssMb - firstHalfPeakRssMb,
      outsideHeapAboveFirstHalfPeakMb: outsideHeapMb(afterAll) - Math.max(...firstHalf.map(outsideHeapMb)),
    },
  };
}
