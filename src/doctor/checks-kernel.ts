import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { TRACEFS_DIRS } from "../bpftrace/kernel-support.js";
import { cgroup2Mount, cgroup2Path } from "../bpftrace/own-cgroup.js";
import { check, type DoctorCheck } from "./report.js";

const BTF_PATH = "/sys/kernel/btf/vmlinux";
const LOCKDOWN_PATH = "/sys/kernel/security/lockdown";
const UNPRIVILEGED_BPF_PATH = "/proc/sys/kernel/unprivileged_bpf_disabled";
const PERF_PARANOID_PATH = "/proc/sys/kernel/perf_event_paranoid";

/** Reads kernel files below `rootDir` ("/" on a real machine, a fixture tree in tests). */
export class KernelFiles {
  constructor(private readonly rootDir: string = "/") {}

  /** The file's text, or null when it is missing or unreadable. */
  read(path: string): string | null {
    try {
      return readFileSync(join(this.rootDir, path), "utf8");
    } catch {
      return null;
    }
  }

  exists(path: string): boolean {
    return existsSync(join(this.rootDir, path));
  }

  /** True when this process may create entries in the directory at `path`. */
  writable(path: string): boolean {
    try {
      accessSync(join(this.rootDir, path), constants.W_OK);
      return true;
    } catch {
      return false;
    }
  }

  size(path: string): number | null {
    try {
      return statSync(join(this.rootDir, path)).size;
    } catch {
      return null;
    }
  }
}

/** Mount points by filesystem type from /proc/mounts text; null when it could not be read. */
export function mountPoints(procMounts: string | null, fsType: string): string[] | null {
  if (procMounts === null) return null;
  return procMounts
    .split("\n")
    .map((line) => line.split(" "))
    .filter((fields) => fields[2] === fsType && fields[1] !== undefined)
    // /proc/mounts escapes spaces and other odd characters as octal.
    .map((fields) => (fields[1] ?? "").replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(parseInt(octal, 8))));
}

const MOUNT_TRACEFS_FIX =
  "mount -t tracefs nodev /sys/kernel/tracing (as root; to keep it, add `tracefs /sys/kernel/tracing tracefs defaults 0 0` to /etc/fstab). In a container, bind-mount the host's /sys/kernel/tracing.";

/** tracefs: where tracepoints and kprobes are attached; without it only BEGIN/END and a few probe types work. */
export function checkTracefs(files: KernelFiles): DoctorCheck {
  const mounted = mountPoints(files.read("/proc/mounts"), "tracefs");
  const standard = mounted?.filter((point) => (TRACEFS_DIRS as readonly string[]).includes(point)) ?? [];
  if (standard.length > 0) return check("tracefs", "tracefs", "ok", `mounted at ${standard.join(" and ")}`);
  // /proc/mounts may not list it yet when debugfs automounts tracing/ on first access.
  const reachable = TRACEFS_DIRS.find((path) => files.exists(`${path}/events`));
  if (reachable) return check("tracefs", "tracefs", "ok", `available at ${reachable}`);
  if (mounted && mounted.length > 0) {
    return check("tracefs", "tracefs", "warn", `mounted only at ${mounted.join(", ")}, where bpftrace does not look`, MOUNT_TRACEFS_FIX);
  }
  const unknown = mounted === null ? " (/proc/mounts unreadable)" : "";
  return check("tracefs", "tracefs", "fail", `not mounted at ${TRACEFS_DIRS.join(" or ")}${unknown}: tracepoints and kprobes cannot attach`, MOUNT_TRACEFS_FIX);
}

/** debugfs: only older kernels and tools need it, so a missing one is a warning. */
export function checkDebugfs(files: KernelFiles): DoctorCheck {
  const mounted = mountPoints(files.read("/proc/mounts"), "debugfs");
  if (mounted && mounted.length > 0) return check("debugfs", "debugfs", "ok", `mounted at ${mounted.join(", ")}`);
  const fix = "mount -t debugfs nodev /sys/kernel/debug (only needed by old kernels, which keep tracing under debugfs).";
  if (mounted === null) return check("debugfs", "debugfs", "warn", "unknown: /proc/mounts unreadable", fix);
  return check("debugfs", "debugfs", "warn", "not mounted (tracefs is enough on kernels since 4.1)", fix);
}

/** Where the server's own cgroup would be made: the cgroup v2 directory this process is in, when it may write there. */
export function ownCgroupParent(files: KernelFiles): { parent: string | null; reason: string | null } {
  const mount = cgroup2Mount(files.read("/proc/self/mountinfo") ?? "");
  const current = cgroup2Path(files.read("/proc/self/cgroup") ?? "");
  if (mount === null) return { parent: null, reason: "no cgroup v2 hierarchy is mounted" };
  if (current === null) return { parent: null, reason: "this process is in no cgroup v2 group" };
  const parent = join(mount, current);
  return files.writable(parent) ? { parent, reason: null } : { parent: null, reason: `${parent} is not writable by this user (not root, no delegated subtree)` };
}

/**
 * The filter that hides the server's own processes from every traced probe: one `cgroup !=`
 * comparison when the server can have a cgroup of its own, else a walk of `curtask->real_parent`.
 */
export function checkSelfExclusion(files: KernelFiles, ownCgroup: "auto" | "off"): DoctorCheck {
  const { parent, reason } = ownCgroupParent(files);
  if (ownCgroup === "auto" && parent !== null) {
    return check("self-exclusion", "Self-exclusion filter", "ok", `by cgroup: the server moves into a leaf under ${parent} and traces skip it (cgroup != id)`);
  }
  const why = ownCgroup === "off" ? "BPFTRACE_MCP_OWN_CGROUP=off" : reason;
  return check(
    "self-exclusion",
    "Self-exclusion filter",
    "info",
    `by task parents (${why}): needs BTF, and costs bpftrace 0.17 about 80 ms per start`,
    "Run the server as root, or give its user a delegated cgroup subtree (systemd Delegate=yes), for the cheaper cgroup filter.",
  );
}

/**
 * BTF: struct layouts, kfunc/fentry arguments and `-lv 'struct X'` need it, and so does the
 * self-exclusion filter when it walks `curtask->real_parent` (no cgroup of the server's own).
 */
export function checkBtf(files: KernelFiles, filterNeedsBtf = true): DoctorCheck {
  const size = files.size(BTF_PATH);
  if (size !== null) return check("btf", "BTF", "ok", `${BTF_PATH} present (${(size / 1_048_576).toFixed(1)} MiB)`);
  const fix = "Use a kernel built with CONFIG_DEBUG_INFO_BTF=y (default on current Ubuntu, Debian, Fedora, RHEL 8.2+).";
  if (!filterNeedsBtf) return check("btf", "BTF", "warn", `${BTF_PATH} missing: struct casts, kfuncs and describe_struct will not work`, fix);
  return check("btf", "BTF", "fail", `${BTF_PATH} missing: the filter that hides the server's own processes from traces needs it, so only BEGIN/END/interval programs will compile`, fix);
}

/** The active mode from "none [integrity] confidentiality"; null when none is marked. */
export function activeLockdown(text: string): string | null {
  return /\[(\w+)\]/.exec(text)?.[1] ?? null;
}

/** Kernel lockdown: integrity blocks a few writes; confidentiality blocks reading kernel memory and tracefs. */
export function checkLockdown(files: KernelFiles): DoctorCheck {
  const text = files.read(LOCKDOWN_PATH);
  if (text === null) {
    return check("lockdown", "lockdown", "info", `unknown: ${LOCKDOWN_PATH} not readable (securityfs not mounted, or no lockdown LSM): assumed off`);
  }
  const mode = activeLockdown(text);
  if (mode === "none") return check("lockdown", "lockdown", "ok", "[none]");
  const undo =
    "Lockdown can only be raised at runtime, never lowered: boot with lockdown=none on the kernel command line, or turn off Secure Boot where the distribution ties lockdown to it (mokutil --disable-validation).";
  if (mode === "integrity") {
    return check("lockdown", "lockdown", "warn", "[integrity]: tracing works, but bpf_probe_write_user and writing kernel memory are blocked", undo);
  }
  if (mode === "confidentiality") {
    return check("lockdown", "lockdown", "fail", "[confidentiality]: reading kernel memory (bpf_probe_read_kernel), kprobes' data and tracefs are blocked: most bpftrace programs fail", undo);
  }
  return check("lockdown", "lockdown", "info", `unrecognised: ${text.trim()}`);
}

function readInteger(files: KernelFiles, path: string): number | null {
  const text = files.read(path)?.trim();
  return text !== undefined && /^-?\d+$/.test(text) ? Number(text) : null;
}

const UNPRIVILEGED_BPF_MEANING: Record<number, string> = {
  0: "0: unprivileged users may load some BPF programs, but not the tracing ones bpftrace needs",
  1: "1: unprivileged BPF is disabled until reboot",
  2: "2: unprivileged BPF is disabled (an admin may re-enable it)",
};

/** Why the server runs bpftrace as root or through sudo, whatever this value is. */
export function checkUnprivilegedBpf(files: KernelFiles): DoctorCheck {
  const value = readInteger(files, UNPRIVILEGED_BPF_PATH);
  const why = "bpftrace needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN), which is why the server runs as root or through sudo";
  if (value === null) return check("unprivileged-bpf", "unprivileged BPF", "info", `${UNPRIVILEGED_BPF_PATH} not readable; ${why}`);
  return check("unprivileged-bpf", "unprivileged BPF", "info", `${UNPRIVILEGED_BPF_MEANING[value] ?? String(value)}; ${why}`);
}

// Each level adds a restriction for users without CAP_PERFMON (Documentation/admin-guide/sysctl/kernel.rst).
const PERF_PARANOID_MEANING: readonly (readonly [number, string])[] = [
  [-1, "users may use (almost) every perf event"],
  [0, "users may not use raw tracepoints or ftrace function events"],
  [1, "users may not use raw tracepoints or CPU events"],
  [2, "users may measure user space only (no kernel profiling)"],
];

/** perf_event_paranoid restricts unprivileged perf events; root (and so bpftrace here) is not affected. */
export function checkPerfEventParanoid(files: KernelFiles): DoctorCheck {
  const value = readInteger(files, PERF_PARANOID_PATH);
  const rootNote = "root is not restricted by it";
  if (value === null) return check("perf-event-paranoid", "perf_event_paranoid", "info", `${PERF_PARANOID_PATH} not readable; ${rootNote}`);
  const meaning = PERF_PARANOID_MEANING.find(([atMost]) => value <= atMost)?.[1] ?? "users may not open any perf event (distribution patch)";
  return check("perf-event-paranoid", "perf_event_paranoid", "info", `${value}: ${meaning}; ${rootNote}`);
}

/** Every kernel check, in report order. */
export function checkKernel(files: KernelFiles, ownCgroup: "auto" | "off" = "auto"): DoctorCheck[] {
  const exclusion = checkSelfExclusion(files, ownCgroup);
  return [checkTracefs(files), checkDebugfs(files), checkBtf(files, exclusion.status !== "ok"), exclusion, checkLockdown(files), checkUnprivilegedBpf(files), checkPerfEventParanoid(files)];
}
