import { z } from "zod";
import { toolResult } from "../errors.js";
import type { Execution } from "../executions/execution.js";
import { runTool, type ToolRegistrar } from "./context.js";
import { describeExecution, executionIdSchema, executionSummarySchema, executionWarnings, storedSchema, summarize } from "./execution-view.js";

const MAX_LIMIT = 10_000;
const MAX_WAIT_SECONDS = 30;
// After SIGUSR1, bpftrace prints its maps within milliseconds; wait this long for them to arrive.
const SNAPSHOT_SETTLE_MS = 300;

/** get_result: read an execution's status and a page of its output by absolute line offset. */
export const registerGetResultTool: ToolRegistrar = (server, context) => {
  server.registerTool(
    "get_result",
    {
      title: "Read a trace's output",
      description:
        "Status and output lines of an execution. offset is an absolute line number: pass next_offset to continue. " +
        `wait_seconds (max ${MAX_WAIT_SECONDS}) waits for new output or the end instead of polling. ` +
        "snapshot_maps=true asks a running trace to print its maps now.",
      inputSchema: {
        execution_id: executionIdSchema,
        offset: z.number().int("offset must be a whole number").min(0, "offset must be 0 or more").optional().describe("First line to return (absolute); default 0"),
        limit: z.number().int("limit must be a whole number").min(1, "limit must be at least 1").max(MAX_LIMIT, `limit must be at most ${MAX_LIMIT}`).optional().describe("Most lines to return; default 1000"),
        wait_seconds: z.number().min(0, "wait_seconds must be 0 or more").max(MAX_WAIT_SECONDS, `wait_seconds must be at most ${MAX_WAIT_SECONDS}`).optional().describe("Wait up to this long for output past offset or for the end; default 0"),
        snapshot_maps: z.boolean().optional().describe("Ask a running trace to print its maps now (SIGUSR1), then return"),
      },
      outputSchema: {
        ...executionSummarySchema,
        ...storedSchema,
        offset: z.number().describe("absolute index of the first returned line"),
        lines: z.array(z.object({ stream: z.enum(["stdout", "stderr"]), text: z.string() })),
        next_offset: z.number().describe("pass as offset to read on"),
        has_more: z.boolean().describe("more lines are already available past this page"),
        skipped: z.number().describe("lines between the requested offset and this page that the ring buffer had dropped"),
        truncated_lines: z.number().describe("lines cut to the maximum line length"),
        snapshot: z.enum(["requested", "unsupported", "not_running"]).nullable(),
        warnings: z.array(z.string()).describe("problems that did not stop the run, e.g. the audit log was not writable"),
      },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async ({ execution_id, offset = 0, limit = 1000, wait_seconds = 0, snapshot_maps = false }, extra) =>
      runTool(context, "get_result", extra, async (principal) => {
        const { registry } = context;
        const execution = await registry.resolve(execution_id, principal);
        let snapshot: "requested" | "unsupported" | "not_running" | null = null;
        // A stored run is not this server's to signal, nor to wait for.
        if (snapshot_maps && execution.stored) snapshot = "not_running";
        else if (snapshot_maps) {
          const traits = context.host.readyHost()?.traits;
          const supported = traits !== undefined && (traits.mapSnapshotSignal !== null || traits.snapshotProbe);
          if (!supported) snapshot = "unsupported";
          else if (registry.snapshot(execution_id, principal)) snapshot = "requested";
          else snapshot = "not_running";
          if (snapshot === "requested") await settleSnapshot(execution);
        }
        if (wait_seconds > 0 && !execution.stored) await execution.waitForOutput(offset, wait_seconds * 1000);
        const slice = execution.ring.read(offset, limit);
        const nextOffset = slice.firstIndex + slice.lines.length;
        const summary = { ...summarize(execution, context.now()), stored: execution.stored };
        const structured = {
          ...summary,
          offset: slice.firstIndex,
          lines: slice.lines,
          next_offset: nextOffset,
          has_more: nextOffset < execution.ring.linesTotal,
          skipped: slice.skipped,
          truncated_lines: execution.truncatedLines,
          snapshot,
          warnings: executionWarnings(execution, registry.store),
        };
        return toolResult(renderText(structured, describeExecution(summary)), structured);
      }),
  );
};

function renderText(
  result: { status: string; error: string | null; offset: number; lines: { stream: string; text: string }[]; next_offset: number; has_more: boolean; skipped: number; snapshot: string | null; warnings: string[] },
  headline: string,
): string {
  const out = [headline];
  if (result.error) out.push(`Error: ${result.error}`);
  if (result.snapshot === "unsupported") out.push("Map snapshots are not supported by this bpftrace version.");
  if (result.skipped > 0) out.push(`(${result.skipped} lines before this page were dropped by the ring buffer)`);
  out.push(`Lines ${result.offset}-${result.next_offset - 1}:`);
  for (const line of result.lines) out.push(line.stream === "stderr" ? `[stderr] ${line.text}` : line.text);
  for (const warning of result.warnings) out.push(`Warning: ${warning}`);
  // ASCII only: one non-Latin-1 character makes V8 build the whole reply as a two-byte string,
  // which made serializing and writing a 1,000-line page about a third slower.
  if (result.has_more) out.push(`More output: call again with offset ${result.next_offset}.`);
  else if (result.status === "running") out.push(`(still running: call again with offset ${result.next_offset} and wait_seconds to follow)`);
  return out.join("\n");
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

// A marked snapshot (bpftrace 0.22+) is done when its end line arrives; 0.17's own printing has no end mark.
const SNAPSHOT_LIMIT_MS = 3_000;

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
