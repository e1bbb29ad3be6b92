import { toolResult } from "../errors.js";
import { runTool, type ToolRegistrar } from "./context.js";
import { describeExecution, executionIdSchema, executionSummarySchema, summarize } from "./execution-view.js";
import { z } from "zod";

/** stop_execution: end a running trace early; its output (and the maps END prints) is kept. */
export const registerStopExecutionTool: ToolRegistrar = (server, context) => {
  server.registerTool(
    "stop_execution",
    {
      title: "Stop a trace",
      description: "Stop a running trace (SIGINT: END runs, maps print). forget=true also deletes it (own runs).",
      inputSchema: { execution_id: executionIdSchema, forget: z.boolean().optional().describe("also delete it") },
      outputSchema: z.looseObject(executionSummarySchema),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
    },
    async ({ execution_id, forget = false }, extra) =>
      runTool(context, "stop_execution", extra, async (principal) => {
        const { registry } = context;
        const found = await registry.resolve(execution_id, principal);
        // Another server's trace is stopped by that server; its stored record can still be forgotten.
        const wasRunning = !found.finished && !found.stored;
        const execution = forget ? await registry.forget(execution_id, principal) : found.stored ? found : await registry.stop(execution_id, principal);
        const summary = summarize(execution, context.now());
        const state = wasRunning ? "Stopped" : found.stored && !found.finished ? "Running in another server process (not stopped)" : "Already ended";
        const text = forget ? `${wasRunning ? "Stopped and forgot" : "Forgot"}: ${describeExecution({ ...summary, stored: execution.stored })}.` : `${state}: ${describeExecution({ ...summary, stored: execution.stored })}. Read its output with get_result.`;
        return toolResult(text, { ...summary, was_running: wasRunning });
      }),
  );
};
