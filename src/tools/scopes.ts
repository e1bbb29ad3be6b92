import type { Scope } from "../executions/principal.js";

/**
 * The scope each tool needs. Over HTTP a call without it is answered 403 before it reaches the
 * server; the tools check it again, so a tool added without an entry here is refused, not open.
 */
export const TOOL_SCOPES: Readonly<Record<string, Scope>> = {
  list_probes: "bpftrace:read",
  bpf_info: "bpftrace:read",
  validate_program: "bpftrace:read",
  list_examples: "bpftrace:read",
  get_example: "bpftrace:read",
  describe_struct: "bpftrace:read",
  exec_program: "bpftrace:trace",
  get_result: "bpftrace:trace",
  stop_execution: "bpftrace:trace",
  list_executions: "bpftrace:trace",
  compare_executions: "bpftrace:trace",
  sessions: "bpftrace:trace",
};

/** The scope a tool needs; admin for a tool nobody listed (fail closed). */
export function scopeFor(tool: string): Scope {
  return TOOL_SCOPES[tool] ?? "bpftrace:admin";
}
