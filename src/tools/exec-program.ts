import { z } from "zod";
import { toolResult } from "../errors.js";
import { runTool, type ToolRegistrar } from "./context.js";
import { describeExecution, executionSummarySchema, summarize } from "./execution-view.js";

/** exec_program: start a bpftrace program; returns once its probes are attached (or it failed to compile). */
export const registerExecProgramTool: ToolRegistrar = (server, context) => {
  const { config } = context;
  server.registerTool(
    "exec_program",
    {
      title: "Run a bpftrace program",
      description:
        `Start a bpftrace program (runs as root, behind a security policy). Returns execution_id once probes are attached; ` +
        `compile and attach errors come back here with line:column. It ends by itself timeout seconds after attaching ` +
        `(default ${config.defaultTimeoutSeconds}, max ${config.maxTimeoutSeconds}) and prints its maps; read output with get_result. ` +
        `Prefer maps/histograms over per-event printf for frequent events.`,
      inputSchema: {
        program: z
          .string()
          .min(1, "program is empty: pass bpftrace source, e.g. tracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", str(args->filename)); }")
          .describe("bpftrace source, e.g. 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }'"),
        timeout: z
          .number({ error: "timeout must be a number of seconds" })
          .refine(Number.isFinite, "timeout must be a finite number of seconds")
          .refine((value) => value >= 1 && value <= config.maxTimeoutSeconds, `timeout must be between 1 and ${config.maxTimeoutSeconds} seconds`)
          .optional()
          .describe(`Seconds of tracing, counted from attach, before SIGINT ends it (maps are printed): 1-${config.maxTimeoutSeconds}, default ${config.defaultTimeoutSeconds}`),
      },
      outputSchema: {
        ...executionSummarySchema,
        warnings: z.array(z.string()).describe("problems that did not stop the run, e.g. the audit log was not writable"),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async ({ program, timeout }, extra) =>
      runTool(context, "exec_program", extra, async (principal) => {
        const timeoutSeconds = timeout === undefined ? config.defaultTimeoutSeconds : Math.ceil(timeout);
        const { execution, warnings } = await context.registry.start(program, timeoutSeconds, { principal });
        const storeHealth = context.registry.store.health();
        if (storeHealth) warnings.push(storeHealth);
        const summary = summarize(execution, context.now());
        const next = execution.finished
          ? "It has already ended; get_result returns its output."
          : `Read output with get_result({ execution_id: "${execution.id}", wait_seconds: 5 }); stop early with stop_execution.`;
        const text = [
          `Started ${describeExecution(summary)}.`,
          execution.attached ? `Attached ${String(execution.attachedProbes)} probe(s).` : "Still attaching.",
          next,
          ...warnings.map((warning) => `Warning: ${warning}`),
        ].join("\n");
        return toolResult(text, { ...summary, warnings });
      }),
  );
};
