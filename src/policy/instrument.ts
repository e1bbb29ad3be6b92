// Everything the server adds to a program before bpftrace runs it, in one place: the filter that
// hides the server's own processes from every traced probe (and, for a library example run for one
// process, the filter on that process), the BEGIN marker that says "attached", the END markers that
// delimit what END prints and the maps bpftrace prints at exit, the deadline guard, and (bpftrace
// 0.22+) the probe that prints maps on SIGUSR1.

import { randomBytes } from "node:crypto";
import type { PolicyDecision, ProbeSite } from "./policy.js";

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
  /** Only events of this process (pid) and/or command (comm) reach the traced probes. */
  processFilter?: ProcessFilter;
}

/** A filter on the task a traced probe fires in. */
export interface ProcessFilter {
  pid?: number;
  /** A command name as the kernel keeps it (at most 15 characters of [A-Za-z0-9 _.:/@+-]). */
  comm?: string;
}

const COMM = /^[A-Za-z0-9 _.:/@+-]{1,15}$/;

/** The program bpftrace runs, and what the server needs to read its output. */
export interface Instrumented {
  source: string;
  /** The line BEGIN prints once every probe is attached (BEGIN runs after attaching). */
  attachMarker: string;
  /** Lines around a snapshot's maps, when the server added the snapshot probe. */
  snapshotMarkers: { begin: string; end: string } | null;
  /**
   * The line END prints first (END has begun) and last (what follows is the maps bpftrace prints at
   * exit); null when the program's END cannot carry them (an END sharing its block with other
   * probes, or with a predicate).
   */
  endMarkers: { begin: string; dump: string } | null;
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

/** The predicate terms of a process filter; throws on a value that is not a pid or a command name. */
export function processFilterTerms(filter: ProcessFilter | undefined): string[] {
  const terms: string[] = [];
  if (filter?.pid !== undefined) {
    if (!Number.isSafeInteger(filter.pid) || filter.pid <= 0) throw new Error(`invalid pid ${filter.pid}`);
    terms.push(`pid == ${filter.pid}`);
  }
  if (filter?.comm !== undefined) {
    if (!COMM.test(filter.comm)) throw new Error(`invalid command name ${JSON.stringify(filter.comm)}`);
    terms.push(`comm == "${filter.comm}"`);
  }
  return terms;
}

const isEnd = (provider: string): boolean => provider === "END" || provider === "end";

/** Builds the program to run from an allowed decision (its outline gives the offsets to edit). */
export function instrumentProgram(program: string, decision: Pick<PolicyDecision, "sites" | "mapNames">, options: InstrumentOptions): Instrumented {
  const nonce = randomBytes(8).toString("hex");
  const attachMarker = `__bpftrace_mcp_attached_${nonce}`;
  const exclusion = [selfExclusion(options.serverPid, options.cgroupId ?? null), ...processFilterTerms(options.processFilter)].join(" && ");
  const edits: { at: number; text: string }[] = [];
  let userBegin = false;
  let userSnapshot = false;
  const userEnds: ProbeSite[] = [];
  let endMarkable = true;
  for (const site of decision.sites) {
    const { specifiers } = site;
    if (specifiers.some((specifier) => specifier.normalized === "self:signal:SIGUSR1")) userSnapshot = true;
    if (specifiers.some((specifier) => isEnd(specifier.provider))) {
      // END sharing a block, or behind a predicate, might not print the markers: the reader falls back.
      if (specifiers.length === 1 && site.predicate === null) userEnds.push(site);
      else endMarkable = false;
    }
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
  const endMarkers = endMarkable ? { begin: `__bpftrace_mcp_end_${nonce}`, dump: `__bpftrace_mcp_exit_maps_${nonce}` } : null;
  const firstEnd = userEnds[0];
  const lastEnd = userEnds.at(-1);
  if (endMarkers && firstEnd && lastEnd) {
    // Inside the user's END (0.17-0.23 allow one): first thing it does, and last, on the lines of its braces.
    edits.push({ at: firstEnd.body.afterOpen, text: ` printf("${endMarkers.begin}\\n"); ` }, { at: lastEnd.body.close, text: ` printf("${endMarkers.dump}\\n"); ` });
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
  if (endMarkers && userEnds.length === 0) appended.push(`END { printf("${endMarkers.begin}\\n"); printf("${endMarkers.dump}\\n"); }`);
  const separator = source.endsWith("\n") ? "" : "\n";
  return { source: `${source}${separator}${appended.join("\n")}\n`, attachMarker, snapshotMarkers, endMarkers, addedProbes: appended.length };
}

const CARET_LINE = /^\s*[~^]+\s*$/;

/** The lines the server changed (as bpftrace quotes them) and the user's own line for each. */
export function changedLines(instrumentedSource: string, userSource: string): Map<string, string> {
  const instrumentedLines = instrumentedSource.split("\n");
  const userLines = userSource.split("\n");
  const changed = new Map<string, string>();
  instrumentedLines.forEach((line, index) => {
    const original = userLines[index];
    if (original !== undefined && original !== line && line.trim() !== "") changed.set(line, original);
  });
  return changed;
}

/**
 * A line-by-line version of inUserTerms for bpftrace's messages as they arrive: returns the line to
 * keep (the user's own line for a quoted changed one), or null to drop it (the caret line under it).
 */
export function userTermsFilter(instrumentedSource: string, userSource: string): (line: string) => string | null {
  const changed = changedLines(instrumentedSource, userSource);
  let dropCaret = false;
  return (line) => {
    if (dropCaret && CARET_LINE.test(line)) {
      dropCaret = false;
      return null;
    }
    const original = changed.get(line);
    dropCaret = original !== undefined;
    return original ?? line;
  };
}

/**
 * bpftrace quotes the source line an error is on: show the user's own line instead of the one with
 * the server's filter in it (dropping the marker line under it, whose columns no longer fit).
 */
export function inUserTerms(message: string, instrumentedSource: string, userSource: string): string {
  const keep = userTermsFilter(instrumentedSource, userSource);
  const out: string[] = [];
  for (const line of message.split("\n")) {
    const kept = keep(line);
    if (kept !== null) out.push(kept);
  }
  return out.join("\n");
}
