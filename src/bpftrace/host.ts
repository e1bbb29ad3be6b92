import { accessSync, closeSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { userInfo } from "node:os";
import type { ResultPromise } from "execa";
import type { Config } from "../config.js";
import { BpftraceMcpError } from "../errors.js";
import type { Logger } from "../logger.js";
import { buildSpawnPlan, SAFE_PATH, withNice, withWatchdog, type PrivilegeMode, type WatchdogTimes } from "./command.js";
import { relayTarget } from "./process-tree.js";
import { lowerTracePriority } from "./trace-priority.js";
import { FifoPool } from "./fifo-pool.js";
import { fifoChannel, streamChannel, type OutputChannel } from "./output-channel.js";
import { runCommand } from "./run-command.js";
import { classifySudoFailure } from "./sudo-errors.js";
import { parseVersion, versionTraits, type BpftraceVersion, type VersionTraits } from "./version.js";

export interface ReadyHost {
  mode: PrivilegeMode;
  /** Absolute path of the bpftrace executable. */
  bpftraceFile: string;
  version: BpftraceVersion | null;
  traits: VersionTraits;
  user: string;
  /** Absolute path of nice(1), which lowers the traces' priority; null when it is missing. */
  niceFile: string | null;
  /** Absolute path of timeout(1), the watchdog that ends a trace if the server cannot; null when it is missing. */
  timeoutFile: string | null;
}

export interface ChildExit {
  exitCode: number | null;
  signal: string | null;
  /** Set when the process could not be started at all. */
  spawnError: string | null;
}

/** A running bpftrace (or the sudo wrapping it), owned by whoever spawned it. */
export interface TraceChild {
  pid: number | undefined;
  stdout: OutputChannel;
  stderr: OutputChannel;
  /** Sends a signal to the direct child; sudo relays INT, TERM and USR1 to bpftrace. */
  signal(signal: NodeJS.Signals): boolean;
  exited: Promise<ChildExit>;
  /** False under sudo: SIGKILL would hit sudo and orphan a root bpftrace. */
  killIsSafe: boolean;
  /** Called once bpftrace has attached: lowers it to BPFTRACE_MCP_NICE (as root; under sudo nice(1) already did). */
  lowerPriority(): void;
}

export interface RunResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved in the order they were written. */
  all?: string;
  timedOut: boolean;
}

// execa (over 100 modules) is loaded on first use, not at start-up: the server answers `initialize` sooner.
const EXECA_PRELOAD_DELAY_MS = 1_000;
let execaModule: Promise<typeof import("execa")> | undefined;
const loadExeca = (): Promise<typeof import("execa")> => (execaModule ??= import("execa"));

/** True when `file` is a regular file this process's real user may access with `mode` (constants.R_OK, X_OK). */
export function isAccessibleFile(file: string, mode: number): boolean {
  try {
    accessSync(file, mode);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Finds an executable by name on PATH (plus the standard system directories), or checks an explicit path. */
export function resolveExecutable(nameOrPath: string, searchPath: string | undefined): string | null {
  const isRunnable = (file: string): boolean => isAccessibleFile(file, constants.X_OK);
  if (nameOrPath.includes("/")) return isAbsolute(nameOrPath) && isRunnable(nameOrPath) ? nameOrPath : null;
  const directories = [...(searchPath ?? "").split(delimiter), ...SAFE_PATH.split(delimiter)];
  for (const directory of directories) {
    if (directory && isAbsolute(directory) && isRunnable(join(directory, nameOrPath))) return join(directory, nameOrPath);
  }
  return null;
}

export interface HostOptions {
  geteuid?: () => number;
  searchPath?: string;
}

/**
 * Knows how to run bpftrace on this machine: which binary, with which privileges, which version.
 * Readiness is checked lazily and re-checked after a failure, except a rejected password: sudo
 * locks accounts after repeated failures, so that verdict sticks until the server restarts.
 */
export class BpftraceHost {
  private ready: ReadyHost | null = null;
  private pending: Promise<ReadyHost> | null = null;
  private passwordRejected: BpftraceMcpError | null = null;
  private readonly geteuid: () => number;
  private readonly searchPath: string | undefined;
  private readonly fifos: FifoPool;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    options: HostOptions = {},
  ) {
    this.geteuid = options.geteuid ?? (() => process.geteuid?.() ?? 0);
    this.searchPath = options.searchPath ?? process.env.PATH;
    this.fifos = new FifoPool(Math.min(config.maxConcurrent, 8), logger);
  }

  /** Releases what the host holds between traces (the spare FIFOs). */
  close(): void {
    this.fifos.close();
  }

  /** The privilege mode this configuration implies. */
  privilegeMode(): PrivilegeMode {
    if (this.geteuid() === 0) return "root";
    return this.config.sudoPassword.length > 0 ? "sudo-password" : "sudo-nopasswd";
  }

  /** Resolves when bpftrace can be run; otherwise throws an error that says what to fix. */
  async ensureReady(): Promise<ReadyHost> {
    if (this.ready) return this.ready;
    if (this.passwordRejected) throw this.passwordRejected;
    this.pending ??= this.check().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  /** The readiness already established, if any (no process is started). */
  readyHost(): ReadyHost | null {
    return this.ready;
  }

  private async check(): Promise<ReadyHost> {
    const bpftraceFile = resolveExecutable(this.config.bpftracePath, this.searchPath);
    if (!bpftraceFile) {
      throw new BpftraceMcpError("BPFTRACE_NOT_FOUND", `bpftrace was not found (BPFTRACE_PATH=${this.config.bpftracePath}).`, {
        hint: "Install it (Debian/Ubuntu: apt-get install bpftrace; Fedora: dnf install bpftrace) or set BPFTRACE_PATH to the absolute path of the executable.",
      });
    }
    const mode = this.privilegeMode();
    const user = safeUserName();
    const result = await this.runWith(mode, bpftraceFile, ["--version"], 15_000);
    if (result.exitCode !== 0) {
      const failure = mode === "root" ? null : classifySudoFailure(result.stderr, mode, user);
      if (failure) {
        if (failure.code === "SUDO_REJECTED") {
          this.passwordRejected = failure;
          this.logger.warn({ user }, "sudo rejected BPFTRACE_PASSWD; it will not be tried again until the server restarts");
        } else {
          this.logger.warn({ user, code: failure.code }, failure.message);
        }
        throw failure;
      }
      throw new BpftraceMcpError("BPFTRACE_FAILED", `'${bpftraceFile} --version' failed (exit ${String(result.exitCode)}): ${firstLines(result.stderr || result.stdout)}`, {
        hint: "Run `bpftrace-mcp-server doctor` to see what is wrong with this machine's bpftrace setup.",
      });
    }
    const version = parseVersion(result.stdout) ?? parseVersion(result.stderr);
    this.ready = { mode, bpftraceFile, version, traits: versionTraits(version), user, niceFile: resolveExecutable("nice", SAFE_PATH), timeoutFile: resolveExecutable("timeout", SAFE_PATH) };
    this.fifos.warm();
    // Loaded before the first trace needs it, but not in the way of the answer this check unblocks.
    setTimeout(() => void loadExeca(), EXECA_PRELOAD_DELAY_MS).unref();
    this.logger.info({ mode, bpftraceFile, version: version?.text ?? null }, "bpftrace is ready");
    return this.ready;
  }

  /** Starts a long-running bpftrace; the caller owns the returned child until it exits. */
  async spawn(host: ReadyHost, bpftraceArgs: readonly string[], watchdog: WatchdogTimes): Promise<TraceChild> {
    const direct = buildSpawnPlan(host.mode, host.bpftraceFile, bpftraceArgs, this.config);
    const watched = withWatchdog(direct, host.timeoutFile, host.mode, watchdog);
    // As root the trace compiles at normal priority and is lowered once attached (lowerPriority);
    // under sudo the server may not renice root's processes, so nice(1) lowers it from the start.
    const plan = host.mode === "root" ? watched : withNice(watched, host.niceFile, this.config.traceNice);
    const fifo = await this.fifos.take();
    let subprocess;
    try {
      const { execa } = await loadExeca();
      subprocess = execa(plan.file, plan.args, {
        cwd: plan.cwd,
        env: plan.env,
        extendEnv: false,
        stdin: plan.stdinText === null ? "ignore" : "pipe",
        // execa hands an fd number straight to child_process.spawn; its types only admit 3 to 9.
        stdout: fifo ? (fifo.writeFd as unknown as "pipe") : "pipe",
        stderr: "pipe",
        buffer: false,
        reject: false,
        // Our own state machine decides every signal; its own process group keeps terminal ^C away from it.
        detached: true,
        cleanup: false,
        forceKillAfterDelay: false,
        encoding: "buffer",
      });
    } catch (error) {
      // Never started (bad options, or execa would not load): the FIFO is nobody's.
      if (fifo) for (const fd of [fifo.readFd, fifo.writeFd]) closeSync(fd);
      throw error;
    }
    // The child has its own copy of the write end now: ours must go, or the output would never end.
    if (fifo) closeSync(fifo.writeFd);
    writeSecretToStdin(subprocess, plan.stdinText);
    const exited = subprocess.then(
      (result): ChildExit => ({
        exitCode: result.exitCode ?? null,
        signal: result.signal ?? null,
        spawnError: result.exitCode === undefined && result.signal === undefined ? spawnFailure(result) : null,
      }),
      (error: unknown): ChildExit => ({ exitCode: null, signal: null, spawnError: String(error) }),
    );
    return {
      pid: subprocess.pid,
      stdout: fifo ? fifoChannel(fifo.readFd) : streamChannel(subprocess.stdout),
      stderr: streamChannel(subprocess.stderr),
      signal: (signal) => {
        // The watchdog would die of SIGUSR1 and SIGKILL would stop at it: signal the process behind it.
        const target = host.timeoutFile === null ? undefined : relayTarget(subprocess.pid);
        try {
          if (target !== undefined) {
            process.kill(target, signal);
            return true;
          }
          // Not found (yet, or already gone): the watchdog forwards SIGINT and SIGTERM itself.
          if (host.timeoutFile !== null && signal !== "SIGINT" && signal !== "SIGTERM") return false;
          return subprocess.kill(signal);
        } catch {
          return false;
        }
      },
      exited,
      killIsSafe: host.mode === "root",
      lowerPriority: () => {
        if (host.mode !== "root" || subprocess.pid === undefined || this.config.traceNice <= 0) return;
        const failed = lowerTracePriority(subprocess.pid, this.config.traceNice);
        if (failed > 0) this.logger.debug({ pid: subprocess.pid, failed }, "some trace threads kept their priority");
      },
    };
  }

  /** Runs a short bpftrace command (`-l`, `-lv`, `--info`, dry runs) to completion. */
  async run(bpftraceArgs: readonly string[], timeoutMs: number): Promise<RunResult> {
    const host = await this.ensureReady();
    const result = await this.runWith(host.mode, host.bpftraceFile, bpftraceArgs, timeoutMs);
    if (result.exitCode !== 0 && host.mode !== "root") {
      const failure = classifySudoFailure(result.stderr, host.mode, host.user);
      if (failure) {
        if (failure.code === "SUDO_REJECTED") this.passwordRejected = failure;
        this.ready = null;
        throw failure;
      }
    }
    return result;
  }

  private async runWith(mode: PrivilegeMode, bpftraceFile: string, bpftraceArgs: readonly string[], timeoutMs: number): Promise<RunResult> {
    const result = await runCommand(buildSpawnPlan(mode, bpftraceFile, bpftraceArgs, this.config), timeoutMs);
    if (result.spawnError !== null) {
      if (mode !== "root" && /ENOENT/.test(result.spawnError)) {
        throw new BpftraceMcpError("SUDO_NOT_FOUND", "The server is not root and sudo is not installed.", {
          hint: "Install sudo and allow this user to run bpftrace (see SECURITY.md), or run the server as root.",
        });
      }
      throw new BpftraceMcpError("BPFTRACE_FAILED", `Could not start bpftrace: ${result.spawnError}`, { hint: "Check BPFTRACE_PATH and the file's permissions." });
    }
    return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, all: result.all, timedOut: result.timedOut };
  }
}

function writeSecretToStdin(subprocess: ResultPromise, stdinText: string | null): void {
  if (stdinText === null || !subprocess.stdin) return;
  // EPIPE when sudo exits before reading is expected; the exit status tells the story.
  subprocess.stdin.on("error", () => undefined);
  subprocess.stdin.end(stdinText);
}

function spawnFailure(result: { message?: string; shortMessage?: string; originalMessage?: string }): string {
  return result.originalMessage ?? result.shortMessage ?? result.message ?? "unknown error";
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? "unknown");
  }
}

/** The first few lines of a command's output, for error messages. */
export function firstLines(text: string, count = 5): string {
  return text
    .split("\n")
    .map((line) => line.trimEnd())
    .filter((line) => line.length > 0 && !/RLIMIT_MEMLOCK/.test(line))
    .slice(0, count)
    .join("\n");
}
