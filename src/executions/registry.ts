import { createHash, randomBytes } from "node:crypto";
import type { AuditSink } from "../audit/audit-log.js";
import { GUARD_PROBES, withDeadlineGuard } from "../bpftrace/deadline-guard.js";
import type { BpftraceHost } from "../bpftrace/host.js";
import { classifySudoFailure } from "../bpftrace/sudo-errors.js";
import type { Config } from "../config.js";
import { BpftraceMcpError } from "../errors.js";
import type { Logger } from "../logger.js";
import { checkProgram, formatRefusal } from "../policy/index.js";
import { Execution } from "./execution.js";
import { supervise, type Supervision } from "./supervisor.js";

// The in-program guard fires this long after the server's own deadline, so the server's SIGINT normally wins.
const GUARD_SLACK_MS = 500;

export interface StartResult {
  execution: Execution;
  /** Problems that did not stop the run (e.g. the audit log could not be written). */
  warnings: string[];
}

export interface ExecutionRegistryDeps {
  config: Config;
  host: BpftraceHost;
  audit: AuditSink;
  logger: Logger;
  now?: () => number;
}

/** Identifier format handed to clients; anything else is rejected before lookup. */
export const EXECUTION_ID_PATTERN = /^ex-[0-9a-f]{12}$/;

/**
 * Every execution the server knows: starts them behind the policy and the concurrency limit,
 * finds them by id, stops them, and forgets finished ones after the retention period.
 */
export class ExecutionRegistry {
  private readonly executions = new Map<string, Execution>();
  private readonly supervisions = new Map<string, Supervision>();
  /** Slots taken by starts still waiting for bpftrace to be ready, so racing calls cannot exceed the limit. */
  private reserved = 0;
  private shuttingDown = false;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly deps: ExecutionRegistryDeps) {
    this.now = deps.now ?? Date.now;
    this.sweepTimer = setInterval(() => this.sweep(), deps.config.cleanupIntervalMs);
    this.sweepTimer.unref();
  }

  /** Checks the program, spawns bpftrace and waits until it attached or failed. */
  async start(program: string, timeoutSeconds: number, tool = "exec_program"): Promise<StartResult> {
    const { config, audit, host } = this.deps;
    const warnings: string[] = [];
    const programSha256 = sha256(program);
    const decision = checkProgram(withFinalNewline(program), { allow: new Set(config.allow), maxBytes: config.maxProgramBytes, maxLines: config.maxProgramLines });
    if (!decision.allowed) {
      const refusal = formatRefusal(decision);
      pushWarning(warnings, audit.write({ event: "refused", tool, execution_id: null, program_sha256: programSha256, program, decision: "refused", reason: refusal }));
      throw new BpftraceMcpError("POLICY_REFUSED", `The program was refused by the server's security policy:\n${refusal}`, {
        hint: "Rewrite the program without the refused constructs; the policy is set by the operator, not negotiable from here.",
        details: { violations: decision.violations },
      });
    }
    if (this.shuttingDown) throw new BpftraceMcpError("SHUTTING_DOWN", "The server is shutting down.", { hint: "Reconnect and try again." });
    if (this.runningCount() + this.reserved >= config.maxConcurrent) {
      const running = [...this.executions.values()].filter((execution) => !execution.finished).map((execution) => execution.id);
      throw new BpftraceMcpError("TOO_MANY_EXECUTIONS", `${config.maxConcurrent} executions are already running (${running.join(", ") || "starting"}).`, {
        hint: "Wait for one to finish (get_result with wait_seconds) or end one with stop_execution, then retry.",
      });
    }
    this.reserved += 1;
    let ready;
    let child;
    let execution;
    let guarded;
    try {
      ready = await host.ensureReady();
      const id = `ex-${randomBytes(6).toString("hex")}`;
      execution = new Execution(id, program, timeoutSeconds, this.now(), {
        ringCapacityLines: config.ringCapacityLines,
        ringCapacityBytes: config.ringCapacityBytes,
      });
      // An unbalanced program will not compile; without the guard its error points at the user's own text.
      // A program without probes (blank, or only comments) gets no guard either: alone, the guard would make it run.
      guarded = decision.structure.balanced && decision.probes.length > 0;
      const source = guarded ? withDeadlineGuard(program, timeoutSeconds * 1000 + GUARD_SLACK_MS) : withFinalNewline(program);
      child = await host.spawn(ready, ["-e", source]);
      this.executions.set(id, execution);
    } finally {
      // Held until the execution is registered, so racing calls cannot exceed the limit.
      this.reserved -= 1;
    }
    const id = execution.id;
    const supervision = supervise(execution, child, {
      maxLineBytes: config.maxLineBytes,
      // Compiling and attaching get their own allowance on top of the trace time.
      attachLimitMs: config.attachWaitMs + timeoutSeconds * 1000,
      killGraceMs: config.killGraceMs,
      guardProbes: guarded ? GUARD_PROBES : 0,
      now: this.now,
      logger: this.deps.logger,
      onEnd: (ended) => {
        this.supervisions.delete(ended.id);
        this.recordEnd(ended, tool);
      },
    });
    this.supervisions.set(id, supervision);
    // Shutdown began while this one was spawning: it ends with the rest.
    if (this.shuttingDown) supervision.stop("shutdown");
    pushWarning(warnings, audit.write({ event: "start", tool, execution_id: id, program_sha256: programSha256, program, decision: "allowed", user: ready.user, privilege: ready.mode }));
    this.deps.logger.info({ executionId: id, timeoutSeconds, programSha256 }, "execution started");

    await Promise.race([supervision.attachedOrEnded, execution.waitForEnd(config.attachWaitMs)]);
    if (execution.finished && !execution.attached && execution.status === "failed") {
      const sudoFailure = ready.mode === "root" ? null : classifySudoFailure(execution.stderrHead.join("\n"), ready.mode, ready.user);
      if (sudoFailure) throw sudoFailure;
      throw new BpftraceMcpError("COMPILE_ERROR", `bpftrace could not run the program (execution ${id}):\n${execution.error ?? "no message"}`, {
        hint: "Fix the program at the line and column bpftrace names; list_probes with verbose=true shows a probe's argument names and types.",
        details: { execution_id: id },
      });
    }
    return { execution, warnings };
  }

  /** The execution with this id, or a clear error. */
  get(id: string): Execution {
    const execution = EXECUTION_ID_PATTERN.test(id) ? this.executions.get(id) : undefined;
    if (!execution) {
      throw new BpftraceMcpError("UNKNOWN_EXECUTION", `No execution has the id '${truncate(id, 80)}'.`, {
        hint: "Use an execution_id returned by exec_program; list_executions shows the known ones (finished runs are forgotten after the retention period).",
      });
    }
    return execution;
  }

  list(): Execution[] {
    return [...this.executions.values()].sort((a, b) => b.startedAt - a.startedAt);
  }

  runningCount(): number {
    return this.supervisions.size;
  }

  /** Asks a running execution to stop and waits (up to the grace period) for it to end. */
  async stop(id: string): Promise<Execution> {
    const execution = this.get(id);
    const supervision = this.supervisions.get(id);
    if (supervision) {
      supervision.stop("stop_request");
      await execution.waitForEnd(this.deps.config.killGraceMs + 6_000);
    }
    return execution;
  }

  /** Asks bpftrace to print its maps now; false when the run has ended or not attached yet. */
  snapshot(id: string): boolean {
    this.get(id);
    return this.supervisions.get(id)?.snapshotMaps() ?? false;
  }

  /** Forgets finished executions older than the retention period; returns how many. */
  sweep(): number {
    const cutoff = this.now() - this.deps.config.retentionMs;
    let removed = 0;
    for (const [id, execution] of this.executions) {
      if (execution.endedAt !== null && execution.endedAt < cutoff) {
        this.executions.delete(id);
        removed += 1;
      }
    }
    return removed;
  }

  /** Stops every running trace and waits for all of them to end (forcing where it is safe after `timeoutMs`). */
  async shutdown(timeoutMs: number): Promise<void> {
    this.shuttingDown = true;
    clearInterval(this.sweepTimer);
    const running = [...this.supervisions.entries()];
    for (const [, supervision] of running) supervision.stop("shutdown");
    const ended = (): Promise<unknown> => Promise.all(running.map(([id]) => this.executions.get(id)?.waitForEnd(timeoutMs)));
    await ended();
    const stragglers = running.filter(([id]) => !this.executions.get(id)?.finished);
    if (stragglers.length === 0) return;
    this.deps.logger.warn({ executionIds: stragglers.map(([id]) => id) }, "traces still running at shutdown: forcing them");
    for (const [, supervision] of stragglers) supervision.force();
    await Promise.all(stragglers.map(([id]) => this.executions.get(id)?.waitForEnd(1_000)));
  }

  private recordEnd(execution: Execution, tool: string): void {
    const warning = this.deps.audit.write({
      event: "end",
      tool,
      execution_id: execution.id,
      program_sha256: sha256(execution.program),
      program: null,
      decision: "allowed",
      status: execution.status,
      exit_code: execution.exitCode,
      signal: execution.exitSignal,
      signals_sent: execution.signalsSent,
      duration_ms: execution.durationMs(this.now()),
      lines: execution.ring.linesTotal,
      lines_dropped: execution.ring.linesDropped,
    });
    if (warning) execution.auditWarning = warning;
  }
}

/** bpftrace 0.17 lexes a `//` comment on an unterminated last line as code: every program the server runs ends with a newline. */
export function withFinalNewline(program: string): string {
  return program.endsWith("\n") ? program : `${program}\n`;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function pushWarning(warnings: string[], warning: string | null): void {
  if (warning) warnings.push(warning);
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
