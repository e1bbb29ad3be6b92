import type { ChildExit, TraceChild } from "../bpftrace/host.js";
import type { OutputChannel } from "../bpftrace/output-channel.js";
import { parseAttachLine } from "../bpftrace/version.js";
import type { Logger } from "../logger.js";
import type { Execution, ExecutionStatus, StopReason } from "./execution.js";
import { LineSplitter } from "./line-splitter.js";
import { LOST_EVENTS, readStdout } from "./stdout-reader.js";

export interface SupervisorOptions {
  maxLineBytes: number;
  /** Longest time bpftrace may take to compile and report its probes attached before it is stopped. */
  attachLimitMs: number;
  /** How long bpftrace may print its maps after SIGINT before it is forced. */
  killGraceMs: number;
  /** Probes the server itself added (BEGIN marker, deadline guard, snapshot probe), subtracted from bpftrace's count. */
  addedProbes: number;
  /** The line the server's BEGIN prints once bpftrace has attached every probe; null: trust the attach line. */
  attachMarker: string | null;
  /** Probes bpftrace must report (the program's specifiers plus the added ones); null when wildcards make it unknown. */
  expectedProbes: number | null;
  /** Lines the snapshot probe prints around its maps (bpftrace 0.22+), or null. */
  snapshotMarkers: { begin: string; end: string } | null;
  /** Lines the server's END prints first and last (then bpftrace prints its maps), or null. */
  endMarkers?: { begin: string; dump: string } | null;
  /** Rewrites bpftrace's messages that quote a line the server changed into the user's line (null: drop it). */
  inUserTerms?: (line: string) => string | null;
  now: () => number;
  logger: Logger;
  /** Called once, after the status is final and both pipes are drained. */
  onEnd: (execution: Execution) => void;
}

// bpftrace 0.17 prints this on every run when it cannot raise the memlock limit; it is not a failure.
const MEMLOCK_NOISE = /RLIMIT_MEMLOCK/;
// An execution's error is repeated in every get_result and list_executions: bpftrace's words, not a dump of its stderr.
const MAX_ERROR_STDERR_CHARS = 3_500;
// After the child exits, a pipe can stay open only if an orphaned grandchild holds it: stop waiting then.
const PIPE_DRAIN_MS = 2_000;
// bpftrace 0.17 sometimes loses a SIGINT (right after "Attaching", or after a SIGUSR1 snapshot).
// A silent bpftrace gets it again after this long; one that is printing (END, maps) is left alone,
// since a second SIGINT while it prints would kill it mid-map.
const SIGINT_RETRY_MS = 1_000;


/** Controls one running bpftrace. */
export interface Supervision {
  /** Resolves when bpftrace reports its probes attached, or when it ends before that. */
  attachedOrEnded: Promise<void>;
  /** Asks bpftrace to finish (SIGINT: END runs and maps print), forcing it only after the grace period. */
  stop(reason: StopReason): void;
  /** Asks a running bpftrace to print its maps now (SIGUSR1); false when it cannot. */
  snapshotMaps(): boolean;
  /** Ends it now: SIGKILL as root; under sudo a relayed SIGTERM, then SIGKILL of sudo (the in-program guard ends an orphan). */
  force(): void;
}

/** Owns `child` until it ends: output into the ring, attach detection, deadline, signals and the final status. */
export function supervise(execution: Execution, child: TraceChild, options: SupervisorOptions): Supervision {
  const log = options.logger.child({ executionId: execution.id });
  const timers = new Set<NodeJS.Timeout>();
  const schedule = (ms: number, action: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, ms);
    timer.unref();
    timers.add(timer);
  };
  let resolveAttached!: () => void;
  const attachedOrEnded = new Promise<void>((resolve) => {
    resolveAttached = resolve;
  });
  let exited = false;

  let reportedProbes: number | null = null;
  const markAttached = (): void => {
    if (execution.attached) return;
    execution.attached = true;
    execution.attachedAt = options.now();
    if (reportedProbes !== null && options.expectedProbes !== null && reportedProbes < options.expectedProbes) {
      execution.attachShortfall = { attached: Math.max(0, reportedProbes - options.addedProbes), expected: options.expectedProbes - options.addedProbes };
    }
    // Compiled and attached at normal priority; from here on a flood must not starve the server.
    child.lowerPriority();
    // The trace time starts here, as bpftrace's own `elapsed` (which the deadline guard reads) does:
    // a slow compile on a busy machine does not eat into it.
    schedule(execution.timeoutSeconds * 1000, () => stop("deadline"));
    resolveAttached();
    execution.emit("attached");
  };
  /** Reads a line printed before attach: the attach count and the marker are the server's, not output. */
  const beforeAttach = (line: string): boolean => {
    if (options.attachMarker !== null && line === options.attachMarker) {
      markAttached();
      return true;
    }
    const count = reportedProbes === null ? parseAttachLine(line) : null;
    if (count === null) return false;
    reportedProbes = count;
    execution.attachedProbes = Math.max(0, count - options.addedProbes);
    // bpftrace 0.17-0.23 print "Attaching" before attaching: only the BEGIN marker means attached.
    if (options.attachMarker === null) markAttached();
    return true;
  };
  const endMarkers = options.endMarkers ?? null;
  const stdout = readStdout(execution, {
    maxLineBytes: options.maxLineBytes,
    attachMarker: options.attachMarker,
    snapshotMarkers: options.snapshotMarkers,
    endMarkers,
    beforeAttach,
    exited: () => exited,
  });
  const stderrLines = new LineSplitter(options.maxLineBytes, (bytes, starts, ends, count) => {
    for (let index = 0; index < count; index += 1) {
      const start = starts[index] ?? 0;
      const end = ends[index] ?? 0;
      const raw = bytes.toString("utf8", start, end);
      if (MEMLOCK_NOISE.test(raw)) continue;
      if (!execution.attached && beforeAttach(raw)) continue;
      const lost = LOST_EVENTS.exec(raw);
      if (lost) execution.lostEvents += Number(lost[1]);
      // A warning quoting a line the server changed shows the user's own line instead.
      const text = options.inUserTerms ? options.inUserTerms(raw) : raw;
      if (text === null) continue;
      if (text === raw) execution.appendStderr(text, bytes, start, end);
      else {
        const own = Buffer.from(text);
        execution.appendStderr(text, own, 0, own.length);
      }
    }
  });
  // Counts chunks read from either pipe: a changing count means bpftrace is alive and printing.
  const activity = { chunks: 0 };
  const drained = Promise.all([
    pump(child.stdout, stdout.lines, execution, activity, stdout.afterChunk),
    pump(child.stderr, stderrLines, execution, activity),
  ]);

  const send = (signal: NodeJS.Signals): void => {
    if (exited) return;
    if (child.signal(signal)) {
      execution.signalsSent.push(signal);
      log.debug({ signal }, "signal sent");
    }
  };

  const stop = (reason: StopReason): void => {
    if (exited || execution.stopReason !== null) return;
    execution.stopReason = reason;
    // Without END markers, what follows SIGINT is taken as END's output (it comes whole, at the end).
    if (endMarkers === null && execution.attached) execution.maps.markEndBegan(execution.ring.linesTotal);
    send("SIGINT");
    const retryWhileSilent = (chunksAtLastSignal: number): void => {
      schedule(SIGINT_RETRY_MS, () => {
        if (exited) return;
        if (activity.chunks === chunksAtLastSignal) send("SIGINT");
        retryWhileSilent(activity.chunks);
      });
    };
    retryWhileSilent(activity.chunks);
    schedule(options.killGraceMs, () => {
      if (exited) return;
      if (child.killIsSafe) {
        log.warn("bpftrace ignored SIGINT for the grace period: SIGKILL");
        send("SIGKILL");
        return;
      }
      // Under sudo, SIGKILL would orphan a root bpftrace: ask again with a relayed SIGTERM first.
      log.warn("bpftrace ignored SIGINT for the grace period: SIGTERM through sudo");
      send("SIGTERM");
      schedule(Math.min(options.killGraceMs, 5_000), () => send("SIGKILL"));
    });
  };

  schedule(options.attachLimitMs, () => {
    if (!execution.attached) stop("attach_timeout");
  });

  void child.exited.then(async (exit) => {
    exited = true;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    stdout.stop();
    await Promise.race([drained, delay(PIPE_DRAIN_MS)]);
    child.stdout.destroy();
    child.stderr.destroy();
    stdout.lines.end();
    stderrLines.end();
    // What bpftrace printed last (its maps at exit) is complete now.
    execution.maps.finish(execution.ring.linesTotal);
    execution.truncatedLines = stdout.lines.truncatedLines + stderrLines.truncatedLines;
    execution.exitCode = exit.exitCode;
    execution.exitSignal = exit.signal;
    const endedAt = options.now();
    const status = classifyEnd(execution, exit, endedAt);
    execution.finish(status, endedAt);
    resolveAttached();
    log.info({ status, exitCode: exit.exitCode, signal: exit.signal, lines: execution.ring.linesTotal }, "execution ended");
    options.onEnd(execution);
  });

  return {
    attachedOrEnded,
    stop,
    force: () => {
      if (exited) return;
      if (child.killIsSafe) {
        send("SIGKILL");
        return;
      }
      send("SIGTERM");
      schedule(300, () => send("SIGKILL"));
    },
    snapshotMaps: () => {
      if (exited || !execution.attached) return false;
      send("SIGUSR1");
      return true;
    },
  };
}

/** Decides how a run ended: a deadline or a stop request is a normal end, whatever the exit code. */
function classifyEnd(execution: Execution, exit: ChildExit, endedAt: number): ExecutionStatus {
  const { exitCode, signal, spawnError } = exit;
  if (spawnError !== null) {
    execution.error = `bpftrace could not be started: ${spawnError}`;
    return "failed";
  }
  const stderrText = clip(execution.stderrHead.join("\n").trim(), MAX_ERROR_STDERR_CHARS);
  // Stopped before bpftrace attached: nothing was traced, so this is a failure, not a timeout.
  if (!execution.attached && execution.stopReason === "attach_timeout") {
    execution.error = `bpftrace had not attached its probes after ${Math.round((endedAt - execution.startedAt) / 1000)} s${stderrText ? `: ${stderrText}` : ""}`;
    return "failed";
  }
  // 126/127: the exec of bpftrace itself failed (by nice(1), which starts it), e.g. the binary went away.
  if (!execution.attached && (exitCode === 126 || exitCode === 127) && stderrText) {
    execution.error = `bpftrace could not be started: ${stderrText}`;
    return "failed";
  }
  // Stopped on request before bpftrace could install its handlers: it died of our own signal.
  const requested = execution.stopReason === "stop_request" || execution.stopReason === "shutdown";
  if (requested && signal !== null && execution.signalsSent.includes(signal)) return "stopped";
  if (!execution.attached && exitCode !== 0) {
    execution.error = stderrText || describeExit(exitCode, signal);
    return "failed";
  }
  if (execution.stopReason === "deadline") return "timed_out";
  if (execution.stopReason === "attach_timeout") return "failed";
  if (execution.stopReason !== null) return "stopped";
  // The in-program guard may beat the server's timer to the deadline: still a timeout, not a completion.
  if (execution.attachedAt !== null && endedAt - execution.attachedAt >= execution.timeoutSeconds * 1000 && exitCode === 0) return "timed_out";
  if (exitCode === 0) return "completed";
  execution.error = `${describeExit(exitCode, signal)}${stderrText ? `: ${stderrText}` : ""}`;
  return "failed";
}

function clip(text: string, maxChars: number): string {
  return text.length > maxChars ? `${text.slice(0, maxChars)}… (cut; get_result has the full output)` : text;
}

function describeExit(exitCode: number | null, signal: string | null): string {
  if (signal) return `bpftrace was killed by ${signal}`;
  return `bpftrace exited with code ${String(exitCode)}`;
}

/** Feeds a pipe into its line splitter in whole chunks, waking pollers once per chunk. */
function pump(channel: OutputChannel, splitter: LineSplitter, execution: Execution, activity: { chunks: number }, after?: () => void): Promise<void> {
  return channel.pump((chunk) => {
    activity.chunks += 1;
    splitter.write(chunk);
    after?.();
    execution.notify();
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
