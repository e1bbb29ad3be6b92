import { readdirSync, readFileSync } from "node:fs";

/** Pids of live processes whose command line contains `marker` (e.g. a comment planted in a program). */
export function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (!cmdline.includes(marker)) continue;
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${entry}/status`, "utf8"))) continue;
      pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids.filter((pid) => pid !== process.pid);
}

/** Like processesWith, without the timeout(1) watchdogs the server puts in front of each trace. */
export function tracesWith(marker: string): number[] {
  return processesWith(marker).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "timeout";
    } catch {
      return false;
    }
  });
}

/** Pids of live bpftrace processes whose command line contains `marker`. */
export function bpftraceProcessesWith(marker: string): number[] {
  return processesWith(marker).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "bpftrace";
    } catch {
      return false;
    }
  });
}
