/** Probes the guard adds to bpftrace's "Attaching N probes" count. */
export const GUARD_PROBES = 1;

/**
 * Appends a probe that makes bpftrace exit by itself once `deadlineMs` has passed, so a trace ends
 * even if the server is SIGKILLed. It re-fires every 100 ms because one exit() event can be lost
 * when the perf buffer overflows. Appended, not prepended, so the user's line numbers stay true.
 */
export function withDeadlineGuard(program: string, deadlineMs: number): string {
  const deadlineNs = BigInt(Math.ceil(deadlineMs)) * 1_000_000n;
  const separator = program.endsWith("\n") ? "" : "\n";
  return `${program}${separator}interval:ms:100 { if (elapsed >= ${deadlineNs.toString()}) { exit(); } }\n`;
}
