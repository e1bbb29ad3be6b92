import { z } from "zod";
import { toolResult } from "../errors.js";
import { runTool, type ToolRegistrar } from "./context.js";

/** describe_struct: a kernel type's fields from BTF, so casts and dereferences are written right. */
export const registerDescribeStructTool: ToolRegistrar = (server, context) => {
  server.registerTool(
    "describe_struct",
    {
      title: "Struct fields",
      description: "Kernel struct/union fields from BTF.",
      inputSchema: {
        name: z
          .string()
          .regex(/^(?:(?:struct|union) )?[A-Za-z_][A-Za-z0-9_]{0,127}$/, "name is a C type name such as task_struct or 'struct sock'")
          .describe("e.g. task_struct"),
      },
      outputSchema: z.looseObject({ fields: z.array(z.unknown()) }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    },
    async ({ name }, extra) =>
      runTool(context, "describe_struct", extra, async () => {
        const qualified = /^(struct|union) /.test(name) ? name : `struct ${name}`;
        const layout = await context.probes.describeStruct(qualified);
        return toolResult(`${layout.raw.trim()}\n(${layout.fields.length} fields)`, { name: layout.name, fields: layout.fields, raw: layout.raw });
      }),
  );
};
