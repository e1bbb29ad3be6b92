import { z } from "zod";
import { toolResult } from "../errors.js";
import { runTool, type ToolRegistrar } from "./context.js";

/** describe_struct: a kernel type's fields from BTF, so casts and dereferences are written right. */
export const registerDescribeStructTool: ToolRegistrar = (server, context) => {
  server.registerTool(
    "describe_struct",
    {
      title: "Show a kernel struct's fields",
      description: "Fields of a kernel struct/union from BTF (bpftrace -lv 'struct NAME'), e.g. task_struct for curtask, sock for TCP probes. Needs kernel BTF.",
      inputSchema: {
        name: z
          .string()
          .regex(/^(?:(?:struct|union) )?[A-Za-z_][A-Za-z0-9_]{0,127}$/, "name is a C type name such as task_struct or 'struct sock'")
          .describe("Type name, e.g. task_struct or 'struct sock'"),
      },
      outputSchema: {
        name: z.string(),
        fields: z.array(z.object({ type: z.string(), name: z.string() })),
        raw: z.string(),
      },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ name }, extra) =>
      runTool(context, "describe_struct", extra, async () => {
        const qualified = /^(struct|union) /.test(name) ? name : `struct ${name}`;
        const layout = await context.probes.describeStruct(qualified);
        return toolResult(`${layout.raw.trim()}\n(${layout.fields.length} fields)`, { name: layout.name, fields: layout.fields, raw: layout.raw });
      }),
  );
};
