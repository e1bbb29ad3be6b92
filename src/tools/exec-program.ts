import { z } from "zod";
import { renameKeys } from "../bpftrace/map-summary.js";
import type { ParsedMap } from "../bpftrace/maps.js";
import { BpftraceMcpError, toolResult } from "../errors.js";
import { programWithThreshold, type Example } from "../examples/catalog.js";
import type { StartOptions } from "../executions/registry.js";
import { runTool, type ToolContext, type ToolRegistrar } from "./context.js";
import { describeExecution, executionSummarySchema, summarize } from "./execution-view.js";
import { progressReporter } from "./progress.js";

// While bpftrace compiles and attaches, a client that asked for progress hears about it this often.
const PROGRESS_EVERY_MS = 1_000;

/** exec_program: start a bpftrace program (or a library example by name); returns once its probes are attached. */
export const registerExecProgramTool: ToolRegistrar = (server, context) => {
  const { config } = context;
  server.registerTool(
    "exec_program",
    {
      title: "Run a program",
      description: `Run a bpftrace program or a library example. Returns when attached (compile errors here); ends after timeout s (default ${config.defaultTimeoutSeconds}, max ${config.maxTimeoutSeconds}).`,
      inputSchema: {
        program: z.string().min(1, "program is empty: pass bpftrace source, or example").optional().describe("bpftrace source"),
        example: z.string().regex(/^[a-z0-9][a-z0-9-]{0,80}$/, "example is a name from list_examples, e.g. open-errors").optional().describe("list_examples name"),
        timeout: z
          .number({ error: "timeout must be a number of seconds" })
          .refine(Number.isFinite, "timeout must be a finite number of seconds")
          .refine((value) => value >= 1 && value <= config.maxTimeoutSeconds, `timeout must be between 1 and ${config.maxTimeoutSeconds} seconds`)
          .optional()
          .describe("Seconds"),
        pid: z.number().int("pid must be a whole number").min(1, "pid must be at least 1").optional().describe("Example param"),
        comm: z.string().regex(/^[A-Za-z0-9 _.:/@+-]{1,15}$/, "comm is a command name of 1-15 characters (letters, digits, space, _ . : / @ + -)").optional().describe("Example param"),
        threshold: z.number().int("threshold must be a whole number").min(0, "threshold must be 0 or more").optional().describe("Example param"),
      },
      outputSchema: z.looseObject(executionSummarySchema),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
    },
    async (args, extra) =>
      runTool(context, "exec_program", extra, async (principal) => {
        const timeoutSeconds = args.timeout === undefined ? config.defaultTimeoutSeconds : Math.ceil(args.timeout);
        const { program, example, options } = programToRun(context, args);
        const report = progressReporter(extra);
        const startedAt = Date.now();
        const ticker = report
          ? setInterval(() => report(Math.round((Date.now() - startedAt) / 100) / 10, undefined, "compiling and attaching"), PROGRESS_EVERY_MS)
          : undefined;
        ticker?.unref();
        let started;
        try {
          started = await context.registry.start(program, timeoutSeconds, { ...options, principal });
        } finally {
          clearInterval(ticker);
        }
        const { execution, warnings } = started;
        context.session?.follow(execution.id);
        const storeHealth = context.registry.store.health();
        if (storeHealth) warnings.push(storeHealth);
        const summary = summarize(execution, context.now());
        const next = execution.finished
          ? "It has already ended; get_result returns its output."
          : `Then get_result({ execution_id: "${execution.id}", until: "end" }) returns the final status, output and maps.`;
        const text = [
          `Started ${describeExecution(summary)}.`,
          execution.attached ? `Attached ${String(execution.attachedProbes)} probe(s).` : "Still attaching.",
          ...(example ? [`How to read it: ${example.output}`] : []),
          next,
          ...warnings.map((warning) => `Warning: ${warning}`),
        ].join("\n");
        return toolResult(text, { ...summary, output_guide: example?.output ?? null, warnings });
      }),
  );
};

interface ProgramArgs {
  program?: string | undefined;
  example?: string | undefined;
  pid?: number | undefined;
  comm?: string | undefined;
  threshold?: number | undefined;
}

/** The program text to run, and for an example its options (process filter, syscall names). */
function programToRun(context: ToolContext, args: ProgramArgs): { program: string; example: Example | null; options: StartOptions } {
  const invalid = (message: string, hint: string): BpftraceMcpError => new BpftraceMcpError("INVALID_ARGUMENT", message, { hint });
  if (args.example === undefined) {
    if (args.program === undefined) throw invalid("Pass program (bpftrace source) or example (a library name).", "list_examples finds a ready-made program for a question.");
    if (args.pid !== undefined || args.comm !== undefined || args.threshold !== undefined) {
      throw invalid("pid, comm and threshold apply to a library example only.", "Write the filter into the program (/pid == 1234/), or run an example by name.");
    }
    return { program: args.program, example: null, options: {} };
  }
  if (args.program !== undefined) throw invalid("Pass either program or example, not both.", "To change an example, get_example returns its source.");
  const example = context.examples.find((candidate) => candidate.name === args.example);
  if (!example) throw new BpftraceMcpError("UNKNOWN_EXAMPLE", `There is no example named '${args.example}'.`, { hint: "list_examples shows the names; search with query or tag." });
  const takes = [example.params.pid ? "pid" : null, example.params.comm ? "comm" : null, example.params.threshold ? `threshold (${example.params.threshold.unit})` : null].filter((name) => name !== null);
  const refuse = (name: string): never => {
    throw invalid(`Example ${example.name} takes no ${name}: ${takes.length > 0 ? `it takes ${takes.join(", ")}` : "it takes no parameters"}.`, "get_example shows its source, to adapt it and run it as program.");
  };
  if (args.pid !== undefined && !example.params.pid) refuse("pid");
  if (args.comm !== undefined && !example.params.comm) refuse("comm");
  if (args.threshold !== undefined && !example.params.threshold) refuse("threshold");
  const program = args.threshold === undefined ? example.program : programWithThreshold(example, args.threshold);
  const options: StartOptions = { example: example.name };
  if (args.pid !== undefined || args.comm !== undefined) options.processFilter = { ...(args.pid !== undefined ? { pid: args.pid } : {}), ...(args.comm !== undefined ? { comm: args.comm } : {}) };
  if (example.syscallKeys.length > 0) {
    const names = context.syscallNames();
    options.mapTransform = (map: ParsedMap) => {
      const indexes = example.syscallKeys.filter((key) => key.map === map.name).map((key) => key.index);
      if (indexes.length === 0 || names.size === 0) return map;
      return renameKeys(map, (_name, index, part) => (indexes.includes(index) && typeof part === "number" ? (names.get(part) ?? part) : part));
    };
  }
  return { program, example, options };
}
