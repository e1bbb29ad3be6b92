import { z } from "zod";
import { BpftraceMcpError, toolResult } from "../errors.js";
import { exampleUri } from "../examples/resources.js";
import { runTool, type ToolRegistrar } from "./context.js";

/** get_example: one curated program with its header, ready for exec_program. */
export const registerGetExampleTool: ToolRegistrar = (server, context) => {
  server.registerTool(
    "get_example",
    {
      title: "Get an example",
      description: "A library program's source, to adapt.",
      inputSchema: {
        name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,80}$/, "name is a kebab-case example name from list_examples, e.g. file-opens").describe("Example name"),
      },
      outputSchema: z.looseObject({ name: z.string(), program: z.string() }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    },
    async ({ name }, extra) =>
      runTool(context, "get_example", extra, async () => {
        const example = context.examples.find((candidate) => candidate.name === name);
        if (!example) {
          throw new BpftraceMcpError("UNKNOWN_EXAMPLE", `There is no example named '${name}'.`, { hint: "list_examples shows the names; search with query or tag." });
        }
        const text = [`${example.title} (${example.name})`, example.question, `Output: ${example.output}`, `Requires: ${example.requires}`, "", example.program].join("\n");
        return toolResult(text, {
          name: example.name,
          title: example.title,
          question: example.question,
          probes: example.probes,
          output: example.output,
          requires: example.requires,
          tags: example.tags,
          program: example.program,
          uri: exampleUri(example.name),
        });
      }),
  );
};
