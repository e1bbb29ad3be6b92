import { z } from "zod";
import { toolResult } from "../errors.js";
import { allTags, searchExamples, type Example } from "../examples/catalog.js";
import { runTool, type ToolRegistrar } from "./context.js";

const DEFAULT_LIMIT = 5;
const MAX_LIMIT = 100;

/** What a caller may pass when running `example` by name, as list_examples shows it. */
export function paramsOf(example: Example): string[] {
  const { pid, comm, threshold } = example.params;
  return [...(pid ? ["pid"] : []), ...(comm ? ["comm"] : []), ...(threshold ? [`threshold (${threshold.unit}, default ${threshold.default})`] : [])];
}

/** list_examples: search the curated, tested bpftrace programs. */
export const registerListExamplesTool: ToolRegistrar = (server, context) => {
  server.registerTool(
    "list_examples",
    {
      title: "Find an example",
      description: "Find tested programs by the question's words, best first.",
      inputSchema: {
        query: z.string().max(200, "query must be at most 200 characters").optional().describe("Question words"),
        tag: z.string().max(50, "tag must be at most 50 characters").optional().describe("e.g. network"),
        limit: z.number().int("limit must be a whole number").min(1, "limit must be at least 1").max(MAX_LIMIT, `limit must be at most ${MAX_LIMIT}`).optional().describe(`Default ${DEFAULT_LIMIT} with query`),
      },
      outputSchema: z.looseObject({ examples: z.array(z.looseObject({ name: z.string() })) }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    },
    async ({ query, tag, limit }, extra) =>
      runTool(context, "list_examples", extra, async () => {
        const matches = searchExamples(context.examples, { query: query?.trim() || undefined, tag: tag?.trim() || undefined });
        // A query ranks the whole library: the best few are the answer. A tag alone lists its examples.
        const shown = limit ?? (query?.trim() ? DEFAULT_LIMIT : MAX_LIMIT);
        const examples = matches.slice(0, shown).map((example) => ({ name: example.name, question: example.question, tags: example.tags, params: paramsOf(example) }));
        const tags = matches.length === 0 ? allTags(context.examples) : [];
        const more = matches.length > examples.length ? ` (best ${examples.length} of ${matches.length})` : "";
        const text =
          examples.length === 0
            ? `No example matches. Tags: ${tags.join(", ")}.`
            : [
                `${matches.length} example(s)${more}:`,
                ...examples.map((example) => `- ${example.name}: ${example.question}${example.params.length > 0 ? ` [params: ${example.params.join(", ")}]` : ""}`),
                "Run one: exec_program({ example, timeout }); get_example shows its source.",
              ].join("\n");
        return toolResult(text, { examples, count: matches.length, tags });
      }),
  );
};
