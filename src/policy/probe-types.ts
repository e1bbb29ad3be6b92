// What a probe specifier names, read as bpftrace reads it: quotes removed, short provider names expanded.

/** How a probe runs relative to the task it interrupts. */
export type ProbeContext =
  /** Fires in the context of whatever task caused the event: it can observe that task. */
  | "traced"
  /** Runs in bpftrace's own context (BEGIN, END, self:signal): it observes nothing else. */
  | "own"
  /** A timer on one CPU: it interrupts whatever task happens to run there. */
  | "timer";

export interface ProbeSpecifier {
  /** The specifier as written. */
  text: string;
  /** Quotes removed: what bpftrace attaches to. */
  normalized: string;
  /** Full provider name, e.g. "tracepoint" for "t". */
  provider: string;
  context: ProbeContext;
  /** For uprobe/uretprobe/usdt: the binary or library named, when it is a path. */
  targetPath: string | null;
}

const PROVIDER_ALIASES: Readonly<Record<string, string>> = {
  t: "tracepoint",
  rt: "rawtracepoint",
  k: "kprobe",
  kr: "kretprobe",
  u: "uprobe",
  ur: "uretprobe",
  U: "usdt",
  p: "profile",
  i: "interval",
  s: "software",
  h: "hardware",
  w: "watchpoint",
  aw: "asyncwatchpoint",
  f: "kfunc",
  fr: "kretfunc",
  fentry: "kfunc",
  fexit: "kretfunc",
  it: "iter",
};

const OWN_CONTEXT = new Set(["BEGIN", "END", "begin", "end", "self"]);
const TARGETED = new Set(["uprobe", "uretprobe", "usdt"]);

/** Reads one probe specifier. */
export function readSpecifier(text: string): ProbeSpecifier {
  const normalized = text.replaceAll('"', "");
  const parts = normalized.split(":");
  const first = parts[0] ?? "";
  const provider = PROVIDER_ALIASES[first] ?? first;
  const context: ProbeContext = OWN_CONTEXT.has(provider) ? "own" : provider === "interval" ? "timer" : "traced";
  // uprobe:/path:func, uprobe:lib:func, usdt:/path:probe, usdt:/path:provider:probe; a target without '/' is a library name.
  const target = TARGETED.has(provider) && parts.length >= 3 ? (parts[1] ?? "") : "";
  return { text, normalized, provider, context, targetPath: target.includes("/") ? target : null };
}
