// The server's own cgroup (v2): a leaf created under the cgroup it was started in, which the server
// moves itself into before it spawns anything, so sudo, timeout and every bpftrace inherit it. The
// filter the server adds to traced probes is then `cgroup != ID`: one helper call per event, where
// walking `curtask->real_parent` makes bpftrace 0.17 load BTF and type task_struct on every start
// (~80 ms). Only a process that may write the cgroup tree (root, or a delegated subtree) can do it;
// otherwise the caller falls back to the ancestry filter.

import { readdirSync, readFileSync, rmdirSync, statSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../logger.js";

const LEAF_PREFIX = "bpftrace-mcp-server-";

export interface OwnCgroup {
  /** The id bpftrace's `cgroup` builtin reports for tasks in it (the directory's inode number). */
  readonly id: bigint;
  readonly path: string;
  /** Moves the server back to where it came from and removes the leaf (once nothing else is in it). */
  release(): void;
}

/** Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems). */
export function cgroup2Mount(mountinfo: string): string | null {
  for (const line of mountinfo.split("\n")) {
    const [before, after] = line.split(" - ");
    if (after?.split(" ")[0] === "cgroup2") return before?.split(" ")[4] ?? null;
  }
  return null;
}

/** This process's cgroup v2 path from /proc/self/cgroup (the `0::` line). */
export function cgroup2Path(procCgroup: string): string | null {
  const line = procCgroup.split("\n").find((entry) => entry.startsWith("0::"));
  return line === undefined ? null : line.slice(3);
}

export interface OwnCgroupOptions {
  pid?: number;
  /** For tests: where /proc/self/{mountinfo,cgroup} are read from. */
  procSelf?: string;
  isAlive?: (pid: number) => boolean;
}

/**
 * Moves this process into a cgroup of its own and returns it; null (with the reason) when that is
 * not possible here. Empty leaves left by servers that were killed are removed on the way.
 */
export function enterOwnCgroup(options: OwnCgroupOptions = {}): { cgroup: OwnCgroup | null; reason: string | null } {
  const pid = options.pid ?? process.pid;
  const procSelf = options.procSelf ?? "/proc/self";
  const isAlive = options.isAlive ?? processExists;
  let mount: string | null;
  let current: string | null;
  try {
    mount = cgroup2Mount(readFileSync(join(procSelf, "mountinfo"), "utf8"));
    current = cgroup2Path(readFileSync(join(procSelf, "cgroup"), "utf8"));
  } catch (error) {
    return { cgroup: null, reason: `cannot read /proc: ${message(error)}` };
  }
  if (mount === null) return { cgroup: null, reason: "no cgroup v2 hierarchy is mounted" };
  if (current === null) return { cgroup: null, reason: "this process is in no cgroup v2 group" };
  const parent = join(mount, current);
  removeStaleLeaves(parent, isAlive);
  const leaf = join(parent, `${LEAF_PREFIX}${pid}`);
  try {
    mkdirSync(leaf, { mode: 0o755 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") return { cgroup: null, reason: `cannot create ${leaf}: ${message(error)}` };
  }
  try {
    // Moves every thread of this process; children spawned from now on start inside.
    writeFileSync(join(leaf, "cgroup.procs"), String(pid));
  } catch (error) {
    tryRmdir(leaf);
    return { cgroup: null, reason: `cannot move into ${leaf}: ${message(error)}` };
  }
  const id = statSync(leaf, { bigint: true }).ino;
  let released = false;
  return {
    reason: null,
    cgroup: {
      id,
      path: leaf,
      release: () => {
        if (released) return;
        released = true;
        try {
          writeFileSync(join(parent, "cgroup.procs"), String(pid));
        } catch {
          // The parent may now hold controllers (no processes allowed there): the leaf stays, emptied at exit.
          return;
        }
        tryRmdir(leaf);
      },
    },
  };
}

/** Removes leaves of servers that no longer run; a leaf still holding a process cannot be removed, so it stays. */
function removeStaleLeaves(parent: string, isAlive: (pid: number) => boolean): void {
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.startsWith(LEAF_PREFIX)) continue;
    const owner = Number(entry.slice(LEAF_PREFIX.length));
    if (Number.isSafeInteger(owner) && owner > 0 && !isAlive(owner)) tryRmdir(join(parent, entry));
  }
}

function processExists(pid: number): boolean {
  try {
    return statSync(`/proc/${pid}`).isDirectory();
  } catch {
    return false;
  }
}

function tryRmdir(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    // Busy (a process is still inside) or gone: nothing to do.
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What a serving process does first (stdio and HTTP alike): its own cgroup per BPFTRACE_MCP_OWN_CGROUP, logged either way. */
export function enterServerCgroup(setting: "auto" | "off", logger: Logger): OwnCgroup | null {
  if (setting === "off") return null;
  const { cgroup, reason } = enterOwnCgroup();
  if (cgroup) logger.info({ cgroup: cgroup.path }, "traces exclude this server's own cgroup");
  else logger.info({ reason }, "no cgroup of its own: traces exclude this server's process tree by its parents");
  return cgroup;
}
