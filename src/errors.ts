import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/** Stable codes a client (and our tests) can rely on; the message says what to do next. */
export type ErrorCode =
  | "INVALID_ARGUMENT"
  | "POLICY_REFUSED"
  | "TOO_MANY_EXECUTIONS"
  | "UNKNOWN_EXECUTION"
  | "UNKNOWN_EXAMPLE"
  | "UNKNOWN_SESSION"
  | "BPFTRACE_NOT_FOUND"
  | "BPFTRACE_FAILED"
  | "COMPILE_ERROR"
  | "ATTACH_ERROR"
  | "SUDO_REJECTED"
  | "SUDO_PASSWORD_REQUIRED"
  | "SUDO_NOT_FOUND"
  | "NOT_PERMITTED"
  | "INSUFFICIENT_SCOPE"
  | "AUDIT_UNAVAILABLE"
  | "SHUTTING_DOWN";

/** A fault the user (or the assistant) can fix: reported as an `isError` tool result, never thrown to the protocol. */
export class BpftraceMcpError extends Error {
  readonly code: ErrorCode;
  /** What to change to make the call succeed. */
  readonly hint: string | undefined;
  /** Extra structured facts, e.g. compiler diagnostics. */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BpftraceMcpError";
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }
}

/** A successful tool result: a text rendering for the model plus the same facts as structured content. */
export function toolResult<T extends Record<string, unknown>>(text: string, structured: T): CallToolResult {
  return { content: [{ type: "text", text }], structuredContent: structured };
}

/** Turns a domain error into an `isError` result; anything else is a bug and is re-thrown. */
export function toolError(error: unknown): CallToolResult {
  if (!(error instanceof BpftraceMcpError)) throw error;
  const lines = [`${error.code}: ${error.message}`];
  if (error.hint) lines.push(`Fix: ${error.hint}`);
  return { content: [{ type: "text", text: lines.join("\n") }], isError: true };
}
