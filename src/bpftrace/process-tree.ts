import { readdirSync, readFileSync } from "node:fs";

// timeout(1) forks once and waits; more hops than this means the tree is not ours.
const MAX_HOPS = 4;

/**
 * The pid behind the watchdog: the first process below `rootPid`, down a chain of timeout(1)
 * processes, that is not timeout itself (bpftrace as root, sudo otherwise). Read from
 * /proc/PID/task/PID/children; undefined while the chain is still forking or once it has gone.
 */
export function relayTarget(rootPid: number | undefined): number | undefined {
  let pid = rootPid;
  for (let hop = 0; pid !== undefined && hop < MAX_HOPS; hop += 1) {
    if (hop > 0 && readComm(pid) !== "timeout") return pid;
    pid = firstChild(pid);
  }
  return undefined;
}

function firstChild(pid: number): number | undefined {
  try {
    const first = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ")[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

function readComm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
}

// timeout(1) → timeout(1) → sudo → bpftrace at most; a deeper tree is not a trace of ours.
const MAX_DEPTH = 4;

/** Every pid in the process tree below and including `rootPid`, read from /proc/PID/task/TID/children. */
export function processTree(rootPid: number): number[] {
  const found: number[] = [];
  const visit = (pid: number, depth: number): void => {
    found.push(pid);
    if (depth >= MAX_DEPTH) return;
    for (const tid of tasksOf(pid)) {
      let children: string;
      try {
        children = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8");
      } catch {
        continue;
      }
      for (const child of children.trim().split(" ")) if (child) visit(Number(child), depth + 1);
    }
  };
  visit(rootPid, 0);
  return found;
}

/** The thread ids of `pid` (empty once it is gone). */
export function tasksOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}
