/** One finding of `doctor`: what was looked at, what was found, and what to do about it. */
export interface DoctorCheck {
  /** Stable identifier tests and scripts can rely on: "bpftrace", "privileges", "trace-test", ... */
  id: string;
  /** Short label shown in the human report. */
  title: string;
  status: "ok" | "warn" | "fail" | "info";
  /** What was found; may span several lines. */
  detail: string;
  /** What to do, or null when nothing needs doing. */
  fix: string | null;
}

/** Everything `doctor` found; `canTrace` is true when the server could run a trace right now. */
export interface DoctorReport {
  canTrace: boolean;
  checks: DoctorCheck[];
}

export type CheckStatus = DoctorCheck["status"];

/** Builds a check; `fix` defaults to null so ok/info checks read in one line. */
export function check(id: string, title: string, status: CheckStatus, detail: string, fix: string | null = null): DoctorCheck {
  return { id, title, status, detail, fix };
}

// The checks whose success `canTrace` requires.
export const ESSENTIAL_CHECK_IDS = ["bpftrace", "privileges", "trace-test"] as const;

/** True when every essential check is present and ok. */
export function canTraceFrom(checks: readonly DoctorCheck[]): boolean {
  return ESSENTIAL_CHECK_IDS.every((id) => checks.some((item) => item.id === id && item.status === "ok"));
}

// ASCII markers, padded to one width, so the report reads the same in any terminal or CI log.
const MARKERS: Record<CheckStatus, string> = { ok: "[ok]", warn: "[warn]", fail: "[FAIL]", info: "[info]" };
const MARKER_WIDTH = 6;

function indentLines(text: string, indent: string): string[] {
  return text.split("\n").map((line, index) => (index === 0 ? line : `${indent}${line}`));
}

/** The human-readable report: one line per check, its fix indented below, then the verdict. */
export function renderReport(report: DoctorReport, heading: string): string {
  const titleWidth = Math.max(0, ...report.checks.map((item) => item.title.length));
  const lines = [heading, ""];
  for (const item of report.checks) {
    const prefix = `${MARKERS[item.status].padEnd(MARKER_WIDTH)} ${item.title.padEnd(titleWidth)}  `;
    const indent = " ".repeat(prefix.length);
    lines.push(`${prefix}${indentLines(item.detail, indent).join("\n")}`);
    if (item.fix !== null && item.status !== "ok") {
      const fixIndent = " ".repeat(MARKER_WIDTH + 1);
      lines.push(`${fixIndent}fix: ${indentLines(item.fix, `${fixIndent}     `).join("\n")}`);
    }
  }
  lines.push("", verdict(report));
  return `${lines.join("\n")}\n`;
}

/** The closing sentence: whether the server can trace, and what else deserves attention. */
export function verdict(report: DoctorReport): string {
  const failed = report.checks.filter((item) => item.status === "fail").map((item) => item.title);
  const warned = report.checks.filter((item) => item.status === "warn").map((item) => item.title);
  if (!report.canTrace) {
    return `Verdict: CANNOT TRACE. Fix the [FAIL] lines above (${failed.join(", ") || "essential checks"}), then run doctor again.`;
  }
  const notes = [
    failed.length > 0 ? `failed: ${failed.join(", ")}` : "",
    warned.length > 0 ? `warnings: ${warned.join(", ")}` : "",
  ].filter((note) => note !== "");
  return `Verdict: ready to trace.${notes.length > 0 ? ` Still worth a look (${notes.join("; ")}).` : ""}`;
}
