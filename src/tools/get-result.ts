import { z } from "zod";
import { toolResult } from "../errors.js";
import { waitForAnswer, type WaitMode } from "../executions/answer-wait.js";
import type { Execution } from "../executions/execution.js";
import { diagnoseFlood } from "../executions/flood-diagnosis.js";
import { readPage, type OutputPage } from "../executions/output-page.js";
import type { MapsPrint } from "../bpftrace/maps.js";
import { runTool, type ToolContext, type ToolRegistrar } from "./context.js";
import { describeExecution, executionIdSchema, executionWarnings, summarize, type ExecutionSummary } from "./execution-view.js";
import { DEFAULT_TOP, mapViewSchema, renderMaps, viewMaps } from "./maps-view.js";
import { progressReporter } from "./progress.js";

const MAX_LIMIT = 10_000;
const MAX_WAIT_SECONDS = 30;
/** Characters of output lines per answer by default: a page that fits a context. */
export const DEFAULT_MAX_CHARS = 8_000;
const MAX_CHARS = 2_000_000;
const MAX_TOP = 1_000;
// After SIGUSR1, bpftrace prints its maps within milliseconds; wait this long for them to arrive.
const SNAPSHOT_SETTLE_MS = 300;
// A marked snapshot (bpftrace 0.22+) is done when its end line arrives; 0.17's own printing has no end mark.
const SNAPSHOT_LIMIT_MS = 3_000;

type SnapshotOutcome = "requested" | "unsupported" | "not_running" | null;

/** get_result: an execution's status, a page of its output, and its maps parsed; waits for whole answers. */
export const registerGetResultTool: ToolRegistrar = (server, context) => {
  server.registerTool(
    "get_result",
    {
      title: "Read a trace",
      description: 'Status, output page and parsed maps (largest first; a map printing is one line). until="end" returns final status, output and maps at once.',
      inputSchema: {
        execution_id: executionIdSchema,
        until: z.enum(["output", "quiet", "end"]).optional().describe("output, pause or end"),
        wait_seconds: z.number().min(0, "wait_seconds must be 0 or more").max(MAX_WAIT_SECONDS, `wait_seconds must be at most ${MAX_WAIT_SECONDS}`).optional().describe(`Max ${MAX_WAIT_SECONDS}; ${MAX_WAIT_SECONDS} with until`),
        offset: z.number().int("offset must be a whole number").min(0, "offset must be 0 or more").optional().describe("next_offset"),
        tail: z.number().int("tail must be a whole number").min(1, "tail must be at least 1").max(MAX_LIMIT, `tail must be at most ${MAX_LIMIT}`).optional().describe("Last N lines"),
        limit: z.number().int("limit must be a whole number").min(1, "limit must be at least 1").max(MAX_LIMIT, `limit must be at most ${MAX_LIMIT}`).optional().describe("Default 1000"),
        max_chars: z.number().int("max_chars must be a whole number").min(100, "max_chars must be at least 100").max(MAX_CHARS, `max_chars must be at most ${MAX_CHARS}`).optional().describe(`Default ${DEFAULT_MAX_CHARS}`),
        stream: z.enum(["stdout", "stderr"]).optional().describe("stderr: bpftrace's"),
        top: z.number().int("top must be a whole number").min(1, "top must be at least 1").max(MAX_TOP, `top must be at most ${MAX_TOP}`).optional().describe(`Map entries, default ${DEFAULT_TOP}`),
        raw_maps: z.boolean().optional().describe("Maps as text"),
        snapshot_maps: z.boolean().optional().describe("Print maps now"),
      },
      outputSchema: z.looseObject({ status: z.string(), lines: z.array(z.string()), maps: z.array(mapViewSchema), next_offset: z.number() }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false },
    },
    async (args, extra) =>
      runTool(context, "get_result", extra, async (principal) => {
        const { registry } = context;
        const execution = await registry.resolve(args.execution_id, principal);
        const snapshotFrom = execution.ring.linesTotal;
        let snapshot: SnapshotOutcome = null;
        if (args.snapshot_maps) {
          // A stored run is not this server's to signal, nor to wait for.
          snapshot = execution.stored ? "not_running" : requestSnapshot(context, execution, principal);
          if (snapshot === "requested") await settleSnapshot(execution);
        }
        const maxChars = args.max_chars ?? DEFAULT_MAX_CHARS;
        const until: WaitMode | undefined = args.until;
        const waitSeconds = args.wait_seconds ?? (until === undefined ? 0 : MAX_WAIT_SECONDS);
        if (waitSeconds > 0 && !execution.stored) {
          const report = progressReporter(extra);
          const waitStarted = Date.now();
          await waitForAnswer(execution, {
            offset: args.tail === undefined ? (args.offset ?? 0) : execution.readableUpTo,
            until: until ?? "output",
            timeoutMs: waitSeconds * 1000,
            pageBytes: maxChars,
            ...(report
              ? {
                  onTick: () => {
                    const waited = (Date.now() - waitStarted) / 1000;
                    report(Math.round(waited * 10) / 10, waitSeconds, progressMessage(execution, context.now()));
                  },
                }
              : {}),
          });
        }
        const page = readPage(execution, { offset: args.offset ?? 0, tail: args.tail, limit: args.limit ?? 1000, maxChars, stream: args.stream, rawMaps: args.raw_maps });
        // Waiting for the end means wanting the final maps, whichever page of lines comes with them.
        const finalMaps = until === "end" && execution.finished;
        const prints = finalMaps ? execution.latestMaps() : withSnapshot(page.prints, execution, snapshot === "requested" ? snapshotFrom : null);
        const top = args.top ?? DEFAULT_TOP;
        const diagnosis = diagnoseFlood(execution, page.lines, prints);
        const summary = { ...summarize(execution, context.now()), stored: execution.stored };
        const structured = {
          ...summary,
          offset: page.offset,
          next_offset: page.nextOffset,
          has_more: page.hasMore,
          skipped: page.skipped,
          lines: page.lines,
          stderr: page.stderr,
          maps: viewMaps(prints, top),
          snapshot,
          lost_events: execution.lostEvents,
          diagnosis: diagnosis.problems.length > 0 ? diagnosis.problems.join(" ") : null,
          warnings: executionWarnings(execution, registry.store),
        };
        return toolResult(renderText(summary, page, prints, top, structured), structured);
      }),
  );
};

function requestSnapshot(context: ToolContext, execution: Execution, principal: Parameters<ToolContext["registry"]["snapshot"]>[1]): SnapshotOutcome {
  const traits = context.host.readyHost()?.traits;
  const supported = traits !== undefined && (traits.mapSnapshotSignal !== null || traits.snapshotProbe);
  if (!supported) return "unsupported";
  return context.registry.snapshot(execution.id, principal) ? "requested" : "not_running";
}

/** The page's printings, plus the snapshot just asked for when the page does not reach it. */
function withSnapshot(prints: MapsPrint[], execution: Execution, snapshotFrom: number | null): MapsPrint[] {
  if (snapshotFrom === null) return prints;
  const taken = execution.mapPrints.filter((print) => print.origin === "snapshot" && print.first_line >= snapshotFrom).at(-1);
  if (!taken || prints.includes(taken)) return prints;
  const names = new Set(taken.maps.map((map) => map.name));
  const others = prints.map((print) => ({ ...print, maps: print.maps.filter((map) => !names.has(map.name)) })).filter((print) => print.maps.length > 0);
  return [...others, taken];
}

function progressMessage(execution: Execution, now: number): string {
  const traced = execution.attachedAt === null ? 0 : (now - execution.attachedAt) / 1000;
  return `${execution.ring.linesTotal} lines so far; ${Math.min(traced, execution.timeoutSeconds).toFixed(0)} s of ${execution.timeoutSeconds} s traced`;
}

function renderText(summary: ExecutionSummary, page: OutputPage, prints: MapsPrint[], top: number, result: { snapshot: SnapshotOutcome; diagnosis: string | null; warnings: string[] }): string {
  const out = [describeExecution(summary)];
  if (summary.error) out.push(`Error: ${summary.error}`);
  if (result.snapshot === "unsupported") out.push("Map snapshots are not supported by this bpftrace version.");
  if (page.skipped > 0) out.push(`(${page.skipped} lines before this page were dropped by the ring buffer)`);
  if (page.lines.length > 0) {
    out.push(`Lines ${page.offset}-${page.nextOffset - 1}:`);
    const stderr = new Set(page.stderr);
    page.lines.forEach((line, index) => out.push(stderr.has(index) ? `[stderr] ${line}` : line));
  } else if (prints.length === 0) {
    out.push(emptyPageText(summary, page));
  }
  if (prints.length > 0) out.push("Maps (largest first):", ...renderMaps(prints, top));
  if (result.diagnosis) out.push(`Note: ${result.diagnosis}`);
  for (const warning of result.warnings) out.push(`Warning: ${warning}`);
  // ASCII only: one non-Latin-1 character makes V8 build the whole reply as a two-byte string,
  // which made serializing and writing a 1,000-line page about a third slower.
  if (page.hasMore) out.push(`More output: call again with offset ${page.nextOffset}.`);
  else if (summary.status === "running") out.push(`(still running: get_result offset=${page.nextOffset} until="end" returns the rest with the final status)`);
  return out.join("\n");
}

/** Says plainly why a page is empty. */
function emptyPageText(summary: ExecutionSummary, page: OutputPage): string {
  if (summary.status === "running") return `No new output past line ${page.offset} yet.`;
  if (summary.lines_total === 0) return "No output: the program printed nothing (and had no maps to print).";
  if (page.filtered > 0) return `No matching lines past line ${page.offset} (${page.filtered} lines of the other stream left out).`;
  return `No more output past line ${page.offset}.`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function settleSnapshot(execution: Execution): Promise<void> {
  const count = execution.snapshots.length;
  const deadline = Date.now() + SNAPSHOT_LIMIT_MS;
  await execution.waitForOutput(execution.ring.linesTotal, SNAPSHOT_SETTLE_MS);
  if (execution.snapshots.length === count && !execution.finished) {
    await delay(SNAPSHOT_SETTLE_MS); // unmarked: give the printing a moment
    if (execution.snapshots.length === count) return;
  }
  while (!execution.finished && execution.snapshots.at(-1)?.end === null && Date.now() < deadline) {
    await execution.waitForOutput(execution.ring.linesTotal, deadline - Date.now());
  }
}
