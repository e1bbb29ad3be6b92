import { z } from "zod";
import { toolResult } from "../errors.js";
import { runTool, type ToolRegistrar } from "./context.js";
import { describeExecution, summarize } from "./execution-view.js";

const PROGRAM_PREVIEW_CHARS = 200;

/** list_executions: what ran and what is running, newest first. */
export const registerListExecutionsTool: ToolRegistrar = (server, context) => {
  server.registerTool(
    "list_executions",
    {
      title: "List executions",
      description: "Running and recent executions.",
      inputSchema: {},
      outputSchema: z.looseObject({ executions: z.array(z.unknown()) }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    },
    async (_args, extra) =>
      runTool(context, "list_executions", extra, async (principal) => {
        const now = context.now();
        const executions = context.registry.list(principal).map((execution) => ({
          ...summarize(execution, now),
          program: execution.program.length > PROGRAM_PREVIEW_CHARS ? `${execution.program.slice(0, PROGRAM_PREVIEW_CHARS)}…` : execution.program,
        }));
        // The caller's own running executions: another principal's are not its business.
        const running = executions.filter((execution) => execution.status === "running").length;
        const text =
          executions.length === 0
            ? "No executions yet. Start one with exec_program."
            : [`${running} running (max ${context.config.maxConcurrent}):`, ...executions.map((execution) => `- ${describeExecution(execution)}`)].join("\n");
        return toolResult(text, { executions, running, max_concurrent: context.config.maxConcurrent });
      }),
  );
};
