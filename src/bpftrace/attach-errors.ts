// bpftrace's words for "a probe named in the program cannot be attached here", per version (0.17:
// "Error attaching probe: 'kprobe:x'"; 0.23: "Could not resolve symbol: /bin/bash:x, cannot attach
// probe."; 0.27 finds it while expanding probes: "No matches for kprobe x."). One code for all.

export interface AttachFailure {
  /** bpftrace's own line. */
  message: string;
  /** The probe it names, when it names one. */
  probe: string | null;
}

const ATTACH_LINES: readonly RegExp[] = [
  /Error attaching probe:?\s*'?([^'\s]+)'?/i,
  /Could not resolve symbol:\s*([^,\s]+)/i,
  /[Uu]nable to attach (?:probe:?\s*)?'?([^'\s]*)'?/,
  /[Ff]ailed to attach (?:probe:?\s*)?'?([^'\s]*)'?/,
  /cannot attach probe/i,
  /No matches for (?:kprobe|kretprobe|uprobe|uretprobe|usdt|kfunc|kretfunc|fentry|fexit|rawtracepoint)\s+([^\s]+?)\.?$/,
];

/** The attach failure in bpftrace's stderr, or null when the failure was something else (a compile error). */
export function attachFailure(stderr: string): AttachFailure | null {
  for (const line of stderr.split("\n")) {
    for (const pattern of ATTACH_LINES) {
      const match = pattern.exec(line);
      if (match) return { message: line.replace(/^ERROR:\s*/, "").trim(), probe: match[1] ? match[1] : null };
    }
  }
  return null;
}
