// Which server process runs a stored `running` execution, named so that another process can tell
// whether it is still alive: boot id, pid and the process's start time (a reused pid has another).
import { readFileSync } from "node:fs";

function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "unknown-boot";
  }
}

/** The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or null. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** This process's key: `boot:pid:start`. */
export function serverKey(): string {
  return `${bootId()}:${process.pid}:${startTime(process.pid) ?? "0"}`;
}

/** True while the process named by `key` still runs (same boot, same pid, same start time). */
export function isServerAlive(key: string): boolean {
  const [boot, pid, start] = key.split(":");
  if (boot !== bootId() || pid === undefined || start === undefined) return false;
  return startTime(Number(pid)) === start;
}
