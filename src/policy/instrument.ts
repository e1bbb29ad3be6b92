// Everything the server adds to a program before bpftrace runs it, in one place: the filter that
// hides the server's own processes from every traced probe, the BEGIN marker that says "attached",
// the deadline guard, and (bpftrace 0.22+) the probe that prints maps on SIGUSR1.

import { randomBytes } from "node:crypto";
import type { PolicyDecision } from "./policy.js";

/** Parents walked from the current task. The deepest of ours: server → timeout → timeout → sudo → sudo → bpftrace. */
export const ANCESTRY_DEPTH = 6;

export interface InstrumentOptions {
  /** The server's pid: it and its descendants (sudo, bpftrace) are invisible to the program. */
  serverPid: number;
  /**
   * The server's own cgroup v2 id, when it has one (bpftrace/own-cgroup.ts): every process of the
   * server's tree is in it, so the filter is one comparison instead of a walk of the parents.
   */
  cgroupId?: bigint | null;
  /** When the in-program guard makes bpftrace exit, counted as bpftrace's `elapsed`. */
  deadlineMs: number;
  /** Add a `self:signal:SIGUSR1` probe that prints every map (bpftrace 0.22+ no longer does it itself). */
  snapshotProbe: boolean;
}

/** The program bpftrace runs, and what the server needs to read its output. */
export interface Instrumented {
  source: string;
  /** The line BEGIN prints once every probe is attached (BEGIN runs after attaching). */
  attachMarker: string;
  /** Lines around a snapshot's maps, when the server added the snapshot probe. */
  snapshotMarkers: { begin: string; end: string } | null;
  /** Probes the server added, to subtract from bpftrace's own count. */
  addedProbes: number;
}

/**
 * The predicate that excludes the server's process tree: by its own cgroup when it has one, else
 * the task itself and its parents, by tgid.
 */
export function selfExclusion(serverPid: number, cgroupId: bigint | null = null): string {
  if (cgroupId !== null) {
    if (cgroupId <= 1n) throw new Error(`invalid server cgroup id ${cgroupId}`);
    return `cgroup != ${cgroupId.toString()}`;
  }
  if (!Number.isSafeInteger(serverPid) || serverPid <= 0) throw new Error(`invalid server pid ${serverPid}`);
  const terms = [`pid != ${serverPid}`];
  for (let depth = 1; depth <= ANCESTRY_DEPTH; depth += 1) {
    terms.push(`curtask${"->real_parent".repeat(depth)}->tgid != ${serverPid}`);
  }
  return terms.join(" && ");
}

/** Builds the program to run from an allowed decision (its outline gives the offsets to edit). */
export function instrumentProgram(program: string, decision: Pick<PolicyDecision, "sites" | "mapNames">, options: InstrumentOptions): Instrumented {
  const nonce = randomBytes(8).toString("hex");
  const attachMarker = `__bpftrace_mcp_attached_${nonce}`;
  const exclusion = selfExclusion(options.serverPid, options.cgroupId ?? null);
  const edits: { at: number; text: string }[] = [];
  let userBegin = false;
  let userSnapshot = false;
  for (const site of decision.sites) {
    const { specifiers } = site;
    if (specifiers.some((specifier) => specifier.normalized === "self:signal:SIGUSR1")) userSnapshot = true;
    if (specifiers.every((specifier) => specifier.context !== "traced")) {
      if (specifiers.some((specifier) => specifier.provider === "BEGIN" || specifier.provider === "begin")) {
        userBegin = true;
        edits.push({ at: site.body.afterOpen, text: ` printf("${attachMarker}\\n"); ` });
      }
      continue;
    }
    if (site.predicate) {
      // The cast keeps a pointer-valued predicate (`/@path[tid]/`) legal as an operand of &&.
      edits.push({ at: site.predicate.afterOpen, text: `(${exclusion}) && ((uint64)(` }, { at: site.predicate.close, text: "))" });
    } else {
      // Spaced: glued to a specifier (`kprobe:f{`), a `/` would read as part of its path.
      edits.push({ at: site.body.open, text: ` /${exclusion}/ ` });
    }
  }
  // One pass, edits in order (stable for two at one offset): linear in the program's size.
  const pieces: string[] = [];
  let copied = 0;
  for (const edit of edits.sort((a, b) => a.at - b.at)) {
    pieces.push(program.slice(copied, edit.at), edit.text);
    copied = edit.at;
  }
  pieces.push(program.slice(copied));
  const source = pieces.join("");
  // Appended, not prepended, so the user's line numbers stay true in bpftrace's errors.
  const appended: string[] = [];
  if (!userBegin) appended.push(`BEGIN { printf("${attachMarker}\\n"); }`);
  const deadlineNs = BigInt(Math.ceil(options.deadlineMs)) * 1_000_000n;
  // Re-fires every 100 ms because one exit() event can be lost when the perf buffer overflows.
  appended.push(`interval:ms:100 { if (elapsed >= ${deadlineNs.toString()}) { exit(); } }`);
  let snapshotMarkers: Instrumented["snapshotMarkers"] = null;
  if (options.snapshotProbe && !userSnapshot) {
    snapshotMarkers = { begin: `__bpftrace_mcp_snapshot_begin_${nonce}`, end: `__bpftrace_mcp_snapshot_end_${nonce}` };
    const prints = decision.mapNames.map((name) => ` print(${name});`).join("");
    appended.push(`self:signal:SIGUSR1 { printf("${snapshotMarkers.begin}\\n");${prints} printf("${snapshotMarkers.end}\\n"); }`);
  }
  const separator = source.endsWith("\n") ? "" : "\n";
  return { source: `${source}${separator}${appended.join("\n")}\n`, attachMarker, snapshotMarkers, addedProbes: appended.length };
}

const CARET_LINE = /^\s*[~^]+\s*$/;

/**
 * bpftrace quotes the source line an error is on: show the user's own line instead of the one with
 * the server's filter in it (dropping the marker line under it, whose columns no longer fit).
 */
export function inUserTerms(message: string, instrumentedSource: string, userSource: string): string {
  const instrumentedLines = instrumentedSource.split("\n");
  const userLines = userSource.split("\n");
  const changed = new Map<string, string>();
  instrumentedLines.forEach((line, index) => {
    const original = userLines[index];
    if (original !== undefined && original !== line && line.trim() !== "") changed.set(line, original);
  });
  const out: string[] = [];
  let dropCaret = false;
  for (const line of message.split("\n")) {
    if (dropCaret && CARET_LINE.test(line)) {
      dropCaret = false;
      continue;
    }
    const original = changed.get(line);
    dropCaret = original !== undefined;
    out.push(original ?? line);
  }
  return out.join("\n");
}
