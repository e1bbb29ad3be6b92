// Every process the bench starts is registered here, so it can be ended by pid whatever happens.
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import process from "node:process";

const owned = new Set();

/** Remembers a child (or a pid) the bench is responsible for until it exits. */
export function own(childOrPid) {
  const pid = typeof childOrPid === "number" ? childOrPid : childOrPid.pid;
  if (pid === undefined) return;
  owned.add(pid);
  if (typeof childOrPid !== "number") childOrPid.once("exit", () => owned.delete(pid));
}

/** Forgets a pid that has been reaped. */
export function disown(pid) {
  owned.delete(pid);
}

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** Direct children of `parentPid`, read from /proc (ppid is field 4 of /proc/PID/stat). */
export function childPidsOf(parentPid) {
  const children = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name is in parentheses and may hold spaces: fields start after the last ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === parentPid) children.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

/** Resident set size of `pid` in kilobytes (VmRSS), or NaN when it is gone. */
export function rssKb(pid) {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Sends SIGKILL to each pid still alive; returns the pids that had to be killed. */
export async function killSurvivors(pids, graceMs = 0) {
  if (graceMs > 0) {
    const deadline = Date.now() + graceMs;
    while (pids.some(isAlive) && Date.now() < deadline) await sleep(50);
  }
  const killed = [];
  for (const pid of pids) {
    if (!isAlive(pid)) continue;
    try {
      process.kill(pid, "SIGKILL");
      killed.push(pid);
    } catch {
      // Already gone.
    }
  }
  return killed;
}

/** Ends every process the bench still owns (used on the way out, including on ^C). */
export async function killAllOwned() {
  const pids = [...owned];
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGINT");
    } catch {
      owned.delete(pid);
    }
  }
  const killed = await killSurvivors(pids, 1_500);
  owned.clear();
  return killed;
}

/** Busy and total jiffies of all CPUs together (from /proc/stat), to compute how loaded the machine was. */
export function cpuTimes() {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  // idle + iowait are not busy.
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** Fraction of all CPUs that were busy between two `cpuTimes()` readings. */
export function busyShare(before, after) {
  const total = after.total - before.total;
  return total > 0 ? (after.busy - before.busy) / total : Number.NaN;
}

/**
 * Scheduler accounting of a process's main thread (/proc/PID/schedstat): nanoseconds on CPU and
 * nanoseconds spent runnable but waiting for a CPU. NaN when unavailable.
 */
export function schedStat(pid) {
  try {
    const [onCpuNs, waitNs] = readFileSync(`/proc/${pid}/schedstat`, "utf8").trim().split(/\s+/).map(Number);
    return { onCpuNs, waitNs };
  } catch {
    return { onCpuNs: Number.NaN, waitNs: Number.NaN };
  }
}

/** CPU time (user + system) `pid` has used so far, in milliseconds, from /proc/PID/stat. */
export function cpuTimeMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}
