import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";

interface Investigation {
  name: string;
  title: string;
  description: string;
  /** Arguments the user fills in; all optional strings. */
  args: Record<string, string>;
  /** The steps, given the filled-in arguments. */
  steps: (values: Record<string, string | undefined>) => string[];
}

const target = (values: Record<string, string | undefined>): string =>
  values.pid ? `PID ${values.pid}` : values.comm ? `processes named '${values.comm}'` : "the busiest processes";

/** The arguments that run an example for the user's target (exec_program takes them for examples that list them). */
const filterArgs = (values: Record<string, string | undefined>): string => (values.pid ? `, pid=${values.pid}` : values.comm ? `, comm="${values.comm}"` : "");

/** Investigations an assistant is often asked for, each as a recipe of tools and examples in order. */
const INVESTIGATIONS: Investigation[] = [
  {
    name: "why_is_process_slow",
    title: "Why is this process slow?",
    description: "Find where a process spends its time: on CPU, waiting for the CPU, in syscalls, or on I/O.",
    args: { pid: "Process id to investigate", comm: "Process name, if no pid" },
    steps: (values) => [
      `Investigate why ${target(values)} is slow, with the bpftrace tools. Run each example for 5-10 s and read it with get_result until="end" (one answer: final status and maps parsed); summarise after each step.`,
      `1. exec_program example=syscall-latency${filterArgs(values)}: which syscalls take the time?`,
      "2. exec_program example=runqueue-latency: is it waiting for a CPU (scheduler latency histogram)?",
      `3. If it is on CPU: exec_program example=cpu-profile${filterArgs(values)}: which stacks are hot?`,
      `4. If reads/writes dominate: example=slow-file-io${filterArgs(values)} or block-io-latency.`,
      "5. Conclude with the evidence: numbers, percentiles, stacks.",
    ],
  },
  {
    name: "who_is_using_the_disk",
    title: "Who is using the disk?",
    description: "Attribute block I/O to processes, with sizes and latency.",
    args: { seconds: "How long to trace (default 10)" },
    steps: (values) => [
      `Find which processes are using the disk, tracing for ${values.seconds ?? "10"} seconds at a time; read each run with get_result until="end".`,
      "1. exec_program example=block-io-sizes: I/O count and size per process.",
      "2. exec_program example=block-io-latency: latency per device; slow tails point at the device, not the process.",
      "3. exec_program example=write-bytes-by-file: which files the top writers write.",
      "4. Report the top processes by bytes and by I/O count, the latency percentiles, and the files involved.",
    ],
  },
  {
    name: "trace_file_access",
    title: "Trace the files a command opens",
    description: "Which files a program opens, which opens fail and why.",
    args: { comm: "Command name as the kernel sees it (comm, at most 15 characters)" },
    steps: (values) => [
      `Trace file access of ${values.comm ? `'${values.comm}'` : "the command the user names"}.`,
      `1. exec_program example=file-opens${values.comm ? `, comm="${values.comm}"` : ""}, timeout 10-30 s; ask the user to run the command meanwhile.`,
      '2. get_result until="end": every open, then the maps.',
      `3. exec_program example=open-errors${values.comm ? `, comm="${values.comm}"` : ""} for failed opens, counted by errno (ENOENT, EACCES, ...).`,
      "4. Summarise: files opened (grouped by directory), failures with their errno.",
    ],
  },
  {
    name: "find_failing_syscalls",
    title: "What is failing on this system?",
    description: "Find syscalls returning errors, by process and errno.",
    args: { comm: "Optional process name to focus on" },
    steps: (values) => [
      `Find failing syscalls${values.comm ? ` of '${values.comm}'` : " system-wide"}.`,
      `1. exec_program example=syscall-errors${values.comm ? `, comm="${values.comm}"` : ""}, timeout 10, then get_result until="end": errors by process, PID, syscall (named) and errno.`,
      "2. For the top offender, list_probes verbose=true on its sys_enter_/sys_exit_ tracepoints and write a focused trace of the failing calls' arguments.",
      "3. Explain each error class and what likely causes it.",
    ],
  },
];

/** Registers every investigation as an MCP prompt. */
export function registerPrompts(server: McpServer): void {
  for (const investigation of INVESTIGATIONS) {
    const argsSchema = Object.fromEntries(Object.entries(investigation.args).map(([name, description]) => [name, z.string().optional().describe(description)]));
    server.registerPrompt(investigation.name, { title: investigation.title, description: investigation.description, argsSchema }, (values: Record<string, string | undefined>) => ({
      description: investigation.description,
      messages: [{ role: "user", content: { type: "text", text: investigation.steps(values).join("\n") } }],
    }));
  }
}

/** The names of the prompts (tests pin them). */
export const PROMPT_NAMES = INVESTIGATIONS.map((investigation) => investigation.name);
