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
  values.pid ? `PID ${values.pid} (predicate /pid == ${values.pid}/)` : values.comm ? `processes named '${values.comm}' (predicate /comm == "${values.comm}"/)` : "the busiest processes";

/** Investigations an assistant is often asked for, each as a recipe of tools and examples in order. */
const INVESTIGATIONS: Investigation[] = [
  {
    name: "why_is_process_slow",
    title: "Why is this process slow?",
    description: "Find where a process spends its time: on CPU, waiting for the CPU, in syscalls, or on I/O.",
    args: { pid: "Process id to investigate", comm: "Process name, if no pid" },
    steps: (values) => [
      `Investigate why ${target(values)} is slow, with the bpftrace tools. Keep each trace short (5-10 s) and summarise after each step.`,
      "1. bpf_info: note which probe types exist (tracepoints are the stable choice).",
      "2. get_example syscall-latency, then exec_program it filtered to the target: which syscalls take the time?",
      "3. get_example runqueue-latency: is the process waiting for a CPU (scheduler latency histogram)?",
      "4. get_example cpu-profile (99 Hz stacks) filtered to the target if it is on CPU: which functions are hot?",
      "5. If reads/writes dominate, get_example slow-file-io or block-io-latency for the I/O side.",
      "6. Read each run with get_result (wait_seconds); maps print at the end. Conclude with the evidence: numbers, histograms, stacks.",
    ],
  },
  {
    name: "who_is_using_the_disk",
    title: "Who is using the disk?",
    description: "Attribute block I/O to processes, with sizes and latency.",
    args: { seconds: "How long to trace (default 10)" },
    steps: (values) => [
      `Find which processes are using the disk, tracing for ${values.seconds ?? "10"} seconds at a time.`,
      "1. list_examples with tag 'disk' to see what exists; get_example block-io-sizes and exec_program it: I/O count and size per process.",
      "2. get_example block-io-latency: latency histogram per device; slow tails point at the device, not the process.",
      "3. get_example write-bytes-by-file: which files the top writers write.",
      "4. Report the top processes by bytes and by I/O count, the latency distribution, and the files involved.",
    ],
  },
  {
    name: "trace_file_access",
    title: "Trace the files a command opens",
    description: "Which files a program opens, which opens fail and why.",
    args: { comm: "Command name as the kernel sees it (comm, at most 15 characters)" },
    steps: (values) => [
      `Trace file access of ${values.comm ? `'${values.comm}'` : "the command the user names"}.`,
      "1. list_probes filter 'tracepoint:syscalls:sys_*_openat' verbose=true: the argument names (args->filename, args->flags, args->ret).",
      `2. get_example file-opens and add the predicate /comm == "${values.comm ?? "NAME"}"/ to its probes; validate_program, then exec_program with timeout 10-30 s.`,
      "3. Ask the user to run the command meanwhile; follow with get_result wait_seconds.",
      "4. get_example open-errors for failed opens (negative return values are -errno: -2 ENOENT, -13 EACCES).",
      "5. Summarise: files opened (grouped by directory), failures with their errno.",
    ],
  },
  {
    name: "find_failing_syscalls",
    title: "What is failing on this system?",
    description: "Find syscalls returning errors, by process and errno.",
    args: { comm: "Optional process name to focus on" },
    steps: (values) => [
      `Find failing syscalls${values.comm ? ` of '${values.comm}'` : " system-wide"}.`,
      "1. get_example syscall-errors and exec_program it for 10 s: errors by process, syscall and errno.",
      "2. For the top offender, list_probes verbose=true on its sys_enter_/sys_exit_ tracepoints and write a focused trace printing the arguments of failing calls.",
      "3. Explain each error class (errno names) and what likely causes it.",
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
