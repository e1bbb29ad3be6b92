// A trace's priority: normal while bpftrace compiles and attaches (the start of a trace on a busy
// machine is what the user waits for), lowered once it is attached, before it can flood (root only:
// under sudo nice(1) is applied before sudo, since the server may not renice root's processes).

import { writeFileSync } from "node:fs";
import { setPriority } from "node:os";
import { processTree, tasksOf } from "./process-tree.js";

/**
 * Lowers the trace started as session leader `rootPid` to `nice`: every thread of every process in
 * its tree (threads created later inherit it), and the session's autogroup. With autogroup
 * scheduling (most distributions' default) a session is scheduled as one group, so a thread's nice
 * only ranks it within its session: four flooding traces got 4/5 of the CPUs whatever their nice.
 * Returns the threads it could not change (gone already, or not ours).
 */
export function lowerTracePriority(rootPid: number, nice: number): number {
  let failed = 0;
  try {
    writeFileSync(`/proc/${rootPid}/autogroup`, String(nice));
  } catch {
    // No autogroup support (the file is missing), or it is switched off: nothing to adjust.
  }
  for (const pid of processTree(rootPid)) {
    for (const tid of tasksOf(pid)) {
      try {
        setPriority(tid, nice);
      } catch {
        failed += 1;
      }
    }
  }
  return failed;
}
