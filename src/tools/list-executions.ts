import { z } from "zod";
import { toolResult } from "../errors.js";
import { runTool, type ToolRegistrar } from "./context.js";
import { describeExecution, summarize, summarizeRecord } from "./execution-view.js";

const PROGRAM_PREVIEW_CHARS = 200;
const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 200;

/** list_executions: what ran and what is running, newest first; stored runs of earlier server processes too. */
export const registerListExecutionsTool: ToolRegistrar = (server, context) => {
  server.registerTool(
    "list_executions",
    {
      title: "List executions",
      description: "Running, recent and stored executions, newest first.",
      inputSchema: {
        offset: z.number().min(0).optional().describe("skip"),
        limit: z.number().min(1).max(MAX_LIMIT).optional().describe(`default ${DEFAULT_LIMIT}`),
      },
      outputSchema: z.looseObject({ executions: z.array(z.unknown()) }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    },
    async ({ offset: offsetArgument = 0, limit: limitArgument = DEFAULT_LIMIT }, extra) =>
      runTool(context, "list_executions", extra, async (principal) => {
        const now = context.now();
        const { registry } = context;
        const offset = Math.floor(offsetArgument);
        const limit = Math.floor(limitArgument);
        const page = await registry.page(principal, offset, limit);
        const executions = page.entries.map((entry) => {
          const summary = "live" in entry ? { ...summarize(entry.live, now), stored: entry.live.stored } : summarizeRecord(entry.stored, now);
          const program = "live" in entry ? entry.live.program : entry.stored.program;
          return { ...summary, program: program.length > PROGRAM_PREVIEW_CHARS ? `${program.slice(0, PROGRAM_PREVIEW_CHARS)}…` : program };
        });
        // The caller's own running executions in this process: another principal's are not its business.
        const running = registry.list(principal).filter((execution) => !execution.finished).length;
        const warnings = [registry.store.health(), registry.store.notice()].filter((warning): warning is string => warning !== null);
        const shown = offset + executions.length;
        const text =
          page.total === 0
            ? "No executions yet. Start one with exec_program."
            : [
                `${running} running (max ${context.config.maxConcurrent}); ${offset + 1}-${shown} of ${page.total}:`,
                ...executions.map((execution) => `- ${describeExecution(execution)}`),
                ...(shown < page.total ? [`More: call again with offset ${shown}.`] : []),
              ].join("\n");
        const withWarnings = [text, ...warnings.map((warning) => `Warning: ${warning}`)].join("\n");
        // The store's warnings are in the text only: a field would cost every turn's tools/list.
        return toolResult(withWarnings, { executions, running, max_concurrent: context.config.maxConcurrent, total: page.total });
      }),
  );
};
