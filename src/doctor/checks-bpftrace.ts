import { childEnvironment } from "../bpftrace/command.js";
import { firstLines, type ReadyHost, type RunResult } from "../bpftrace/host.js";
import { runCommand } from "../bpftrace/run-command.js";
import { parseProbeList, probeType } from "../bpftrace/parse-probes.js";
import { parseVersion, versionTraits, type BpftraceVersion } from "../bpftrace/version.js";
import type { PrivilegeMode } from "../bpftrace/command.js";
import { BpftraceMcpError } from "../errors.js";
import { check, type DoctorCheck } from "./report.js";

/** The part of `BpftraceHost` doctor uses, so tests can hand in a fake. */
export interface DoctorHost {
  ensureReady(): Promise<ReadyHost>;
  run(bpftraceArgs: readonly string[], timeoutMs: number): Promise<RunResult>;
  privilegeMode(): PrivilegeMode;
}

export interface BpftraceCheckDeps {
  host: DoctorHost;
  /** BPFTRACE_PATH as configured, for messages. */
  bpftracePath: string;
  /** True when BPFTRACE_PASSWD is set (its value is never needed here). */
  passwordSet: boolean;
  /** The executable BPFTRACE_PATH resolves to, or null (used when the host could not get ready). */
  resolveBpftrace: () => string | null;
  /** `<file> --version` run without privileges; null when it cannot be read. */
  readVersionUnprivileged?: (file: string) => Promise<BpftraceVersion | null>;
}

export const TRACE_TEST_MARKER = "doctor-ok";
export const TRACE_TEST_PROGRAM = `BEGIN { printf("${TRACE_TEST_MARKER}\\n"); exit(); }`;
const TRACE_TEST_TIMEOUT_MS = 30_000;
const LIST_TIMEOUT_MS = 60_000;
const INSTALL_FIX =
  "Install it (Debian/Ubuntu: apt-get install bpftrace; Fedora: dnf install bpftrace; Arch: pacman -S bpftrace) or set BPFTRACE_PATH to the absolute path of the executable.";
// Error codes that mean bpftrace was found but the privileges to run it were not.
const PRIVILEGE_CODES = new Set(["SUDO_REJECTED", "SUDO_PASSWORD_REQUIRED", "NOT_PERMITTED", "SUDO_NOT_FOUND"]);

/** `--version` needs no privileges, so the version can be shown even when sudo refuses. */
export async function readVersionUnprivileged(file: string): Promise<BpftraceVersion | null> {
  const result = await runCommand({ file, args: ["--version"], stdinText: null, env: childEnvironment({ childEnv: {} }), cwd: "/" }, 10_000);
  return parseVersion(`${result.stdout}\n${result.stderr}`);
}

function versionCheck(file: string, version: BpftraceVersion | null): DoctorCheck {
  if (version === null) {
    return check("bpftrace", "bpftrace", "warn", `${file} (version could not be read)`, "Check that `" + file + " --version` prints a version; the server then assumes bpftrace 0.17 behaviour.");
  }
  if (versionTraits(version).knownGood) return check("bpftrace", "bpftrace", "ok", `${file} v${version.text} (known to work)`);
  return check("bpftrace", "bpftrace", "warn", `${file} v${version.text} (older than 0.16: not known to work)`, "Upgrade bpftrace to 0.16 or newer (distribution package, or the static build from github.com/bpftrace/bpftrace/releases).");
}

function privilegeOk(ready: ReadyHost, passwordSet: boolean): DoctorCheck {
  if (ready.mode === "root") {
    const unused = passwordSet ? " (BPFTRACE_PASSWD is set but not needed as root)" : "";
    return check("privileges", "privileges", "ok", `running as root: bpftrace is run directly${unused}`);
  }
  if (ready.mode === "sudo-nopasswd") return check("privileges", "privileges", "ok", `passwordless sudo works for user ${ready.user}`);
  return check("privileges", "privileges", "ok", `sudo with BPFTRACE_PASSWD works for user ${ready.user}`);
}

function privilegeFailure(error: BpftraceMcpError): DoctorCheck {
  return check("privileges", "privileges", "fail", error.message.replace(/\.$/, ""), error.hint ?? "See SECURITY.md for running bpftrace through sudo.");
}

function skipped(id: string, title: string, reason: string): DoctorCheck {
  return check(id, title, "info", `not run: ${reason}`);
}

/** Runs a one-line BEGIN program and checks that its output came back. */
async function traceTest(host: DoctorHost): Promise<DoctorCheck> {
  const shown = `bpftrace -e '${TRACE_TEST_PROGRAM}'`;
  let result: RunResult;
  try {
    result = await host.run(["-e", TRACE_TEST_PROGRAM], TRACE_TEST_TIMEOUT_MS);
  } catch (error) {
    if (!(error instanceof BpftraceMcpError)) throw error;
    return check("trace-test", "trace test", "fail", `${shown} could not run: ${error.message}`, error.hint ?? null);
  }
  if (result.exitCode === 0 && result.stdout.includes(TRACE_TEST_MARKER)) {
    return check("trace-test", "trace test", "ok", `${shown} printed ${TRACE_TEST_MARKER}`);
  }
  const why = result.timedOut ? `timed out after ${TRACE_TEST_TIMEOUT_MS / 1000} s` : `exit ${String(result.exitCode)}`;
  const output = firstLines(result.stderr || result.stdout, 3);
  return check(
    "trace-test",
    "trace test",
    "fail",
    `${shown} failed (${why})${output ? `:\n${output}` : ""}`,
    "Run that command as root and read its error. Usual causes: kernel lockdown (see below), a kernel without CONFIG_BPF_SYSCALL/CONFIG_BPF_EVENTS, or a container without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN (e.g. docker run --privileged).",
  );
}

/** Probe counts by type from `bpftrace -l`; warns when kprobes are missing. */
export function probeCountsCheck(listStdout: string, listStderr: string): DoctorCheck {
  const counts = new Map<string, number>([
    ["tracepoint", 0],
    ["kprobe", 0],
  ]);
  for (const probe of parseProbeList(listStdout)) {
    const type = probeType(probe);
    counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  const summary = [...counts.entries()]
    .sort(([typeA, countA], [typeB, countB]) => countB - countA || typeA.localeCompare(typeB))
    .map(([type, count]) => `${type} ${count}`)
    .join(", ");
  const warnings = listStderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => /^WARNING:/.test(line));
  const bpftraceSaid = warnings.length > 0 ? `\nbpftrace said: ${warnings.slice(0, 2).join("; ")}` : "";
  if ((counts.get("tracepoint") ?? 0) === 0) {
    return check("probes", "probes", "warn", `${summary}: no tracepoints listed${bpftraceSaid}`, "Tracepoints need tracefs: mount -t tracefs nodev /sys/kernel/tracing (see the tracefs check).");
  }
  if ((counts.get("kprobe") ?? 0) === 0) {
    return check(
      "probes",
      "probes",
      "warn",
      `${summary}: tracepoints only; kprobe-based examples are skipped${bpftraceSaid}`,
      "kprobes need a kernel with CONFIG_KPROBES and a readable /sys/kernel/tracing/available_filter_functions; some VMs and containers hide it. Tracepoints work meanwhile.",
    );
  }
  return check("probes", "probes", "info", summary);
}

async function probeCounts(host: DoctorHost): Promise<DoctorCheck> {
  try {
    const result = await host.run(["-l"], LIST_TIMEOUT_MS);
    if (result.exitCode !== 0 && parseProbeList(result.stdout).length === 0) {
      return check("probes", "probes", "warn", `bpftrace -l failed (exit ${String(result.exitCode)}): ${firstLines(result.stderr, 2)}`, "Run `bpftrace -l` as root and read its error.");
    }
    return probeCountsCheck(result.stdout, result.stderr);
  } catch (error) {
    if (!(error instanceof BpftraceMcpError)) throw error;
    return check("probes", "probes", "warn", `bpftrace -l could not run: ${error.message}`, error.hint ?? null);
  }
}

/**
 * The checks that run bpftrace: found and which version, privilege mode (the server's own
 * verdict, from `ensureReady`), a real one-line trace, and the probe counts. Always returns the
 * four checks, in that order; the later ones say "not run" when an earlier one failed.
 */
export async function checkBpftrace(deps: BpftraceCheckDeps): Promise<DoctorCheck[]> {
  let ready: ReadyHost;
  try {
    ready = await deps.host.ensureReady();
  } catch (error) {
    if (!(error instanceof BpftraceMcpError)) throw error;
    return notReady(error, deps);
  }
  return [versionCheck(ready.bpftraceFile, ready.version), privilegeOk(ready, deps.passwordSet), await traceTest(deps.host), await probeCounts(deps.host)];
}

async function notReady(error: BpftraceMcpError, deps: BpftraceCheckDeps): Promise<DoctorCheck[]> {
  const cannotRun = "bpftrace cannot be run (see above)";
  if (error.code === "BPFTRACE_NOT_FOUND") {
    return [
      check("bpftrace", "bpftrace", "fail", `bpftrace not found (BPFTRACE_PATH=${deps.bpftracePath})`, INSTALL_FIX),
      skipped("privileges", "privileges", "bpftrace was not found"),
      skipped("trace-test", "trace test", cannotRun),
      skipped("probes", "probes", cannotRun),
    ];
  }
  const file = deps.resolveBpftrace() ?? deps.bpftracePath;
  const version = await (deps.readVersionUnprivileged ?? readVersionUnprivileged)(file).catch(() => null);
  if (PRIVILEGE_CODES.has(error.code)) {
    return [versionCheck(file, version), privilegeFailure(error), skipped("trace-test", "trace test", cannotRun), skipped("probes", "probes", cannotRun)];
  }
  // BPFTRACE_FAILED: the privileges may be fine, but `bpftrace --version` itself failed through them.
  const mode = deps.host.privilegeMode();
  return [
    check("bpftrace", "bpftrace", "fail", `${file}${version ? ` v${version.text}` : ""}: ${error.message}`, error.hint ?? `Run \`${file} --version\` as root and read its error.`),
    mode === "root"
      ? check("privileges", "privileges", "ok", "running as root: bpftrace is run directly")
      : check("privileges", "privileges", "warn", `not confirmed: bpftrace failed when run through sudo (${mode})`, "Fix the bpftrace check first; if it persists, run `sudo " + file + " --version` by hand."),
    skipped("trace-test", "trace test", cannotRun),
    skipped("probes", "probes", cannotRun),
  ];
}
