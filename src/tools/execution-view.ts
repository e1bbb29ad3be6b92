import { z } from "zod";
import type { Execution } from "../executions/execution.js";
import { EXECUTION_ID_PATTERN } from "../executions/registry.js";
import type { ExecutionRecord, ExecutionStore } from "../executions/store.js";

/** The execution_id argument shared by the tools that take one. */
export const executionIdSchema = z
  .string()
  .regex(EXECUTION_ID_PATTERN, "execution_id looks like 'ex-' followed by 12 hex digits, as returned by exec_program")
  .describe("From exec_program");

/**
 * The fields of an execution's summary a client keys on, as output schemas declare them. Results
 * carry the whole summary (ExecutionSummary, README "Tools"); the schema names what matters, since
 * every character of it is read on every turn.
 */
export const executionSummarySchema = {
  execution_id: z.string(),
  status: z.string(),
  error: z.string().nullable(),
};

/** Read from disk: run by an earlier or another server process (get_result and list_executions say it). */
export const storedSchema = { stored: z.boolean() };

export type ExecutionSummary = {
  execution_id: string;
  status: Execution["status"];
  started_at: string;
  duration_ms: number;
  timeout_seconds: number;
  attached_probes: number | null;
  exit_code: number | null;
  exit_signal: string | null;
  error: string | null;
  lines_total: number;
  lines_dropped: number;
  output_evicted: boolean;
  stored?: boolean;
};

export function summarize(execution: Execution, now: number): ExecutionSummary {
  return {
    execution_id: execution.id,
    status: execution.status,
    started_at: new Date(execution.startedAt).toISOString(),
    duration_ms: execution.durationMs(now),
    timeout_seconds: execution.timeoutSeconds,
    attached_probes: execution.attachedProbes,
    exit_code: execution.exitCode,
    exit_signal: execution.exitSignal,
    error: execution.error,
    lines_total: execution.ring.linesTotal,
    lines_dropped: execution.ring.linesDropped,
    output_evicted: execution.outputEvicted,
  };
}

/** The same facts from a stored record (a listing reads no output). */
export function summarizeRecord(record: ExecutionRecord, now: number): ExecutionSummary {
  return {
    execution_id: record.id,
    status: record.status,
    started_at: new Date(record.startedAt).toISOString(),
    duration_ms: (record.endedAt ?? now) - record.startedAt,
    timeout_seconds: record.timeoutSeconds,
    attached_probes: record.attachedProbes,
    exit_code: record.exitCode,
    exit_signal: record.exitSignal,
    error: record.error,
    lines_total: record.linesTotal,
    lines_dropped: record.firstAvailable,
    output_evicted: record.outputEvicted,
    stored: true,
  };
}

/** One line describing an execution, for text renderings. */
export function describeExecution(summary: ExecutionSummary): string {
  const parts = [`${summary.execution_id}: ${summary.status}`, `${(summary.duration_ms / 1000).toFixed(1)}s of ${summary.timeout_seconds}s`, `${summary.lines_total} lines`];
  if (summary.lines_dropped > 0) parts.push(`${summary.lines_dropped} dropped`);
  if (summary.exit_code !== null) parts.push(`exit ${summary.exit_code}`);
  if (summary.exit_signal) parts.push(`signal ${summary.exit_signal}`);
  if (summary.stored) parts.push("stored");
  const line = parts.join(", ");
  return summary.output_evicted ? `${line}. Output dropped to stay within the server's memory budget (BPFTRACE_MCP_OUTPUT_BUDGET_BYTES).` : line;
}

/** Problems a result about `execution` must mention: its audit record, and the store while it cannot keep results. */
export function executionWarnings(execution: Execution, store: ExecutionStore): string[] {
  const warnings: string[] = [];
  if (execution.auditWarning) warnings.push(execution.auditWarning);
  const storeWarning = store.health() ?? execution.storeWarning;
  if (storeWarning) warnings.push(storeWarning);
  return warnings;
}
