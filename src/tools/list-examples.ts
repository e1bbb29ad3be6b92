import { z } from "zod";
import { toolResult } from "../errors.js";
import { searchExamples, allTags } from "../examples/catalog.js";
import { exampleUri } from "../examples/resources.js";
import { runTool, type ToolRegistrar } from "./context.js";

/** list_examples: search the curated, tested bpftrace programs. */
export const registerListExamplesTool: ToolRegistrar = (server, context) => {
  server.registerTool(
    "list_examples",
    {
      title: "Find a ready-made bpftrace program",
      description:
        "Search the curated library of tested bpftrace programs (file opens, exec, syscall latency, disk I/O, scheduler, TCP, DNS, OOM, signals, ...) by words and/or tag. " +
        "Start from one of these instead of writing from scratch; get_example returns the program.",
      inputSchema: {
        query: z.string().max(200, "query must be at most 200 characters").optional().describe("Words to look for in names, titles, questions, tags and probes, e.g. 'disk latency'"),
        tag: z.string().max(50, "tag must be at most 50 characters").optional().describe("Only examples with this tag, e.g. 'network'"),
      },
      outputSchema: {
        examples: z.array(
          z.object({ name: z.string(), title: z.string(), question: z.string(), probes: z.array(z.string()), tags: z.array(z.string()), uri: z.string() }),
        ),
        count: z.number(),
        tags: z.array(z.string()).describe("every tag in the library"),
      },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ query, tag }, extra) =>
      runTool(context, "list_examples", extra, async () => {
        const matches = searchExamples(context.examples, { query: query?.trim() || undefined, tag: tag?.trim() || undefined });
        const examples = matches.map((example) => ({
          name: example.name,
          title: example.title,
          question: example.question,
          probes: example.probes,
          tags: example.tags,
          uri: exampleUri(example.name),
        }));
        const tags = allTags(context.examples);
        const text =
          examples.length === 0
            ? `No example matches. Tags: ${tags.join(", ")}.`
            : [`${examples.length} example(s):`, ...examples.map((example) => `- ${example.name}: ${example.question} [${example.tags.join(", ")}]`), "get_example({ name }) returns the program."].join("\n");
        return toolResult(text, { examples, count: examples.length, tags });
      }),
  );
};
