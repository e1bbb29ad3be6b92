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
      description: "Stop a running trace (SIGINT: END runs, maps print).",
      inputSchema: { execution_id: executionIdSchema },
      outputSchema: z.looseObject(executionSummarySchema),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
    },
    async ({ execution_id }, extra) =>
      runTool(context, "stop_execution", extra, async (principal) => {
        const wasRunning = !context.registry.get(execution_id, principal).finished;
        const execution = await context.registry.stop(execution_id, principal);
        const summary = summarize(execution, context.now());
        const text = `${wasRunning ? "Stopped" : "Already ended"}: ${describeExecution(summary)}. Read its output with get_result.`;
        return toolResult(text, { ...summary, was_running: wasRunning });
      }),
  );
};
