// Answers `bpftrace -l 'tracepoint:CATEGORY:EVENT'` from tracefs, the way bpftrace 0.17 does it,
// without starting bpftrace: it reads the same `available_events` file, matches each line with the
// same wildcard algorithm, and prints the matches sorted. Used for a first, cold list_probes call.
import { access, readFile } from "node:fs/promises";
import type { BpftraceVersion } from "./version.js";
import { parseProbeList } from "./parse-probes.js";

// bpftrace's tracefs::path(): the debugfs mount when it exists, else the tracefs mount point.
const DEBUGFS_TRACING = "/sys/kernel/debug/tracing";
const TRACEFS = "/sys/kernel/tracing";

/**
 * The filters answered here: provider spelled out, category and event given, `*` the only
 * wildcard. bpftrace reads anything else differently (`?` and braces are syntax errors, a missing
 * event is an error, "tracepoint:*" is expanded another way): those go to bpftrace itself.
 */
const TRACEPOINT_FILTER = /^tracepoint:([A-Za-z0-9_*]+):([A-Za-z0-9_*]+)$/;

/** Releases whose tracepoint listing this reproduces, checked against the real binary (test/real). */
export function listsTracepointsLikeThis(version: BpftraceVersion | null): boolean {
  return version !== null && version.major === 0 && version.minor === 17;
}

/** `CATEGORY:EVENT`, what bpftrace matches against each line of available_events; null for other filters. */
export function tracepointSearch(filter: string): string | null {
  const match = TRACEPOINT_FILTER.exec(filter);
  return match ? `${match[1] ?? ""}:${match[2] ?? ""}` : null;
}

/** The text of available_events as bpftrace would read it; null when it cannot be read (not root) or is not plain ASCII. */
export async function readAvailableEvents(): Promise<string | null> {
  try {
    const directory = await access(DEBUGFS_TRACING).then(
      () => DEBUGFS_TRACING,
      () => TRACEFS,
    );
    const bytes = await readFile(`${directory}/available_events`);
    // bpftrace compares and sorts bytes; for ASCII that is what JavaScript strings do too.
    if (bytes.some((byte) => byte > 0x7f)) return null;
    return bytes.toString("latin1");
  } catch {
    return null;
  }
}

interface WildcardPattern {
  tokens: string[];
  startWildcard: boolean;
  endWildcard: boolean;
}

/** bpftrace's get_wildcard_tokens(): the pieces between `*`s, empty ones dropped. */
function wildcardTokens(input: string): WildcardPattern {
  return { tokens: input.split("*").filter((token) => token !== ""), startWildcard: input.startsWith("*"), endWildcard: input.endsWith("*") };
}

/**
 * bpftrace's wildcard_match(): each token at its first occurrence after the previous one. This is
 * not a full glob match: "sched:*_*t" does not match "sched:sched_kthread_stop_ret", because the
 * last "t" is looked for only at its first occurrence after "_".
 */
function wildcardMatch(line: string, { tokens, startWildcard, endWildcard }: WildcardPattern): boolean {
  let next = 0;
  if (!startWildcard && line.indexOf(tokens[0] ?? "", next) !== next) return false;
  for (const token of tokens) {
    const found = line.indexOf(token, next);
    if (found < 0) return false;
    next = found + token.length;
  }
  return endWildcard || line.length === next;
}

/**
 * The probes `bpftrace -l 'tracepoint:<search>'` prints for `search` ("CATEGORY:EVENT"), given
 * the text of available_events: matching lines (".part." ones skipped), each once, in byte order,
 * read back the way the output of bpftrace is.
 */
export function matchAvailableEvents(availableEvents: string, search: string): string[] {
  const pattern = wildcardTokens(search);
  const lines = availableEvents.split("\n");
  // std::getline yields no line after a final newline.
  if (lines[lines.length - 1] === "") lines.pop();
  const matches = new Set<string>();
  for (const line of lines) {
    if (wildcardMatch(line, pattern) && !line.includes(".part.")) matches.add(line);
  }
  const sorted = [...matches].sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
  return parseProbeList(sorted.map((line) => `tracepoint:${line}\n`).join(""));
}
