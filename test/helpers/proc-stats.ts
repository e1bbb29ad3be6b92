import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** A process as /proc/<pid>/stat describes it. */
export interface ProcEntry {
  pid: number;
  ppid: number;
  /** R, S, D, Z, T, ... */
  state: string;
  comm: string;
}

function readStat(pid: number): ProcEntry | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm is in parentheses and may itself contain spaces or parentheses: split after the last ')'.
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    return { pid, comm: stat.slice(stat.indexOf("(") + 1, close), state: fields[0] ?? "?", ppid: Number(fields[1]) };
  } catch {
    return null;
  }
}

/** Direct children of `pid`, zombies included. */
export function childrenOf(pid: number): ProcEntry[] {
  const children: ProcEntry[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.ppid === pid) children.push(stat);
  }
  return children;
}

/** Children of `pid` that exited but were never reaped. */
export function zombieChildrenOf(pid: number): ProcEntry[] {
  return childrenOf(pid).filter((child) => child.state === "Z");
}

/** What each open file descriptor of `pid` points at (pipe:[…], socket:[…], /dev/null, anon_inode:[eventpoll], …). */
export function openFds(pid: number): string[] {
  const targets: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      targets.push(`${fd} -> ${readlinkSync(`/proc/${pid}/fd/${fd}`)}`);
    } catch {
      // Closed while we looked.
    }
  }
  return targets;
}

/** How many file descriptors `pid` holds open. */
export function openFdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function statusField(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match?.[1]) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

/** Resident set size in KiB (VmRSS). */
export function residentKb(pid: number): number {
  return statusField(pid, "VmRSS");
}

