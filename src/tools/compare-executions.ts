import { z } from "zod";
import { toolResult } from "../errors.js";
import type { Execution } from "../executions/execution.js";
import { compareMaps, renderComparison, type Comparison } from "../sessions/compare.js";
import { runTool, type ToolRegistrar } from "./context.js";

/** The comparison of two runs as the tools hand it out (compare_executions, sessions run). */
export function comparisonOf(before: Execution, after: Execution): Comparison & { before: string; after: string; same_program: boolean } {
  const comparison = compareMaps(before.mapPrints, after.mapPrints);
  if (!after.finished) comparison.notes.push(`${after.id} is still running: its maps so far`);
  return { before: before.id, after: after.id, same_program: before.program === after.program, ...comparison };
}

/** The text of a comparison: one headline, then the maps. */
export function comparisonText(comparison: ReturnType<typeof comparisonOf>): string {
  const head = `${comparison.before} → ${comparison.after}${comparison.same_program ? "" : " (different programs)"}:`;
  const body = renderComparison(comparison);
  return [head, ...(body.length > 0 ? body : ["no maps to compare"])].join("\n");
}

/** compare_executions: did it change? Map by map, between two runs. */
export const registerCompareExecutionsTool: ToolRegistrar = (server, context) => {
  server.registerTool(
    "compare_executions",
    {
      title: "Compare two runs",
      description: "Compare two runs' maps: keys appeared/gone, largest changes, hist count/p50/p90/p99 shifts.",
      // Ids are checked by the lookup (an invalid one is UNKNOWN_EXECUTION): a pattern here would cost every turn.
      inputSchema: { before: z.string().describe("earlier run"), after: z.string().describe("later run") },
      outputSchema: z.looseObject({}),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ before, after }, extra) =>
      runTool(context, "compare_executions", extra, async (principal) => {
        const comparison = comparisonOf(await context.registry.resolve(before, principal), await context.registry.resolve(after, principal));
        return toolResult(comparisonText(comparison), { ...comparison });
      }),
  );
};
