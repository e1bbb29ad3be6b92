import type { Config } from "../config.js";

/** How bpftrace gets its privileges. */
export type PrivilegeMode = "root" | "sudo-password" | "sudo-nopasswd";

export interface SpawnPlan {
  file: string;
  args: string[];
  /** Text written to the child's stdin, then closed (only the sudo password). */
  stdinText: string | null;
  env: Record<string, string>;
  cwd: string;
}

// A fixed PATH and working directory: nothing from the server's own environment leaks into root's process.
export const SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The minimal environment bpftrace runs with: PATH, C locale, and only the BPFTRACE_* the operator configured. */
export function childEnvironment(config: Pick<Config, "childEnv">): Record<string, string> {
  return { PATH: SAFE_PATH, LANG: "C", LC_ALL: "C", ...config.childEnv };
}

/**
 * Builds the argv for running bpftrace with `bpftraceArgs`: directly as root, or through sudo.
 * The password only ever goes to stdin (`-S`), with `-k` so a cached ticket never hides a wrong one.
 */
export function buildSpawnPlan(
  mode: PrivilegeMode,
  bpftraceFile: string,
  bpftraceArgs: readonly string[],
  config: Pick<Config, "childEnv" | "sudoPassword">,
): SpawnPlan {
  const env = childEnvironment(config);
  if (mode === "root") {
    return { file: bpftraceFile, args: [...bpftraceArgs], stdinText: null, env, cwd: "/" };
  }
  // sudo resets the environment; configured BPFTRACE_* settings are passed as VAR=value (needs SETENV in sudoers).
  const envAssignments = Object.entries(config.childEnv).map(([name, value]) => `${name}=${value}`);
  if (mode === "sudo-password") {
    return {
      file: "sudo",
      args: ["-S", "-k", "-p", "", "--", ...envAssignments, bpftraceFile, ...bpftraceArgs],
      stdinText: `${config.sudoPassword}\n`,
      env,
      cwd: "/",
    };
  }
  return { file: "sudo", args: ["-n", "--", ...envAssignments, bpftraceFile, ...bpftraceArgs], stdinText: null, env, cwd: "/" };
}

/**
 * Runs `plan` at a lower priority through nice(1): set before exec, so sudo and every bpftrace thread
 * inherit it (an unprivileged server could not renice a root process afterwards).
 */
export function withNice(plan: SpawnPlan, niceFile: string | null, nice: number): SpawnPlan {
  if (niceFile === null || nice <= 0) return plan;
  return { ...plan, file: niceFile, args: ["-n", String(nice), "--", plan.file, ...plan.args] };
}

/** When the watchdog ends a trace that the server did not end: seconds after spawn, then the grace for its maps. */
export interface WatchdogTimes {
  deadlineSeconds: number;
  graceSeconds: number;
}

/**
 * Puts coreutils timeout(1) in front, so a trace ends at its deadline even if the server is killed:
 * the watchdog is a separate process in the trace's own session, and the program text cannot touch it.
 * As root it sends SIGINT (END runs, maps print) and SIGKILL after the grace. Under sudo, SIGKILL
 * would hit sudo and orphan a root bpftrace, so a second timeout sends SIGTERM instead, which sudo
 * relays. `--foreground` keeps each timeout from signalling its whole process group a second time.
 */
export function withWatchdog(plan: SpawnPlan, timeoutFile: string | null, mode: PrivilegeMode, times: WatchdogTimes): SpawnPlan {
  if (timeoutFile === null) return plan;
  const deadline = String(Math.ceil(times.deadlineSeconds));
  const grace = String(Math.max(1, Math.ceil(times.graceSeconds)));
  const inner = ["--foreground", "--preserve-status", "-s", "INT"];
  if (mode === "root") {
    return { ...plan, file: timeoutFile, args: [...inner, "-k", grace, deadline, plan.file, ...plan.args] };
  }
  const outer = ["--foreground", "--preserve-status", "-s", "TERM", String(Math.ceil(times.deadlineSeconds) + Number(grace))];
  return { ...plan, file: timeoutFile, args: [...outer, timeoutFile, ...inner, deadline, plan.file, ...plan.args] };
}
