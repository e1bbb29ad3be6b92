import type { BpftraceHost } from "./host.js";

export interface Diagnostic {
  line: number | null;
  column: number | null;
  message: string;
}

export interface DryRunResult {
  valid: boolean;
  diagnostics: Diagnostic[];
  /** bpftrace's stderr, noise removed. */
  messages: string;
  method: "--dry-run" | "-d";
}

// e.g. "stdin:1:55-65: ERROR: Struct/union of type ... does not contain a field named 'nope'"
const DIAGNOSTIC = /^(?:stdin|-):(\d+):(\d+)(?:-\d+)?: (?:ERROR|error): (.*)$/;
const BARE_ERROR = /^(?:ERROR|FATAL): (.*)$/;

/** Parses bpftrace's error lines into positioned diagnostics; the RLIMIT_MEMLOCK notice is not one. */
export function parseDiagnostics(stderr: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const line of stderr.split("\n")) {
    if (/RLIMIT_MEMLOCK/.test(line)) continue;
    const positioned = DIAGNOSTIC.exec(line);
    if (positioned) {
      diagnostics.push({ line: Number(positioned[1]), column: Number(positioned[2]), message: positioned[3] ?? "" });
      continue;
    }
    const bare = BARE_ERROR.exec(line);
    if (bare) diagnostics.push({ line: null, column: null, message: bare[1] ?? "" });
  }
  return diagnostics;
}

/**
 * Compiles a program without attaching anything: `--dry-run` from bpftrace 0.22, `-d` (which
 * prints the AST and IR and exits) before. Both run parsing and semantic analysis, so unknown
 * tracepoints, fields and builtins are caught; attach-time problems (a uprobe symbol that does
 * not exist) only show when the program runs.
 */
export async function dryRun(host: BpftraceHost, program: string): Promise<DryRunResult> {
  const ready = await host.ensureReady();
  const method = ready.traits.dryRun === "dry-run-flag" ? "--dry-run" : "-d";
  const source = program.endsWith("\n") ? program : `${program}\n`;
  const result = await host.run([method, "-e", source], 60_000);
  const messages = result.stderr
    .split("\n")
    .filter((line) => !/RLIMIT_MEMLOCK/.test(line))
    .join("\n")
    .trim();
  const diagnostics = parseDiagnostics(result.stderr);
  if (result.exitCode !== 0 && diagnostics.length === 0) {
    diagnostics.push({ line: null, column: null, message: messages || `bpftrace exited with code ${String(result.exitCode)}` });
  }
  return { valid: result.exitCode === 0, diagnostics, messages, method };
}
