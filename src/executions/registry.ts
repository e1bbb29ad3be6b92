import { createHash, randomBytes } from "node:crypto";
import { requireAudited, type AuditSink } from "../audit/audit-log.js";
import { attachFailure } from "../bpftrace/attach-errors.js";
import type { BpftraceHost } from "../bpftrace/host.js";
import { classifySudoFailure } from "../bpftrace/sudo-errors.js";
import type { Config } from "../config.js";
import { BpftraceMcpError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { ParsedMap } from "../bpftrace/maps.js";
import { formatRefusal, inUserTerms, instrumentProgram, userTermsFilter, type PolicyDecision, type ProcessFilter } from "../policy/index.js";
import { Execution } from "./execution.js";
import { ProgramGate } from "./gate.js";
import { MemoryStore } from "./memory-store.js";
import { OutputBudget } from "./output-budget.js";
import { LOCAL_PRINCIPAL, mayAccess, type Principal } from "./principal.js";
import type { ExecutionStore } from "./store.js";
import { StoredExecutions, type ListedExecution } from "./stored-executions.js";
import { supervise, type Supervision } from "./supervisor.js";

// The in-program guard fires this long after the server's own deadline, so the server's SIGINT normally wins.
const GUARD_SLACK_MS = 500;

/** Who starts a run, and through which tool (recorded in the audit log). */
export interface StartOptions {
  principal?: Principal;
  tool?: string;
  /** The library example the program comes from, if any. */
  example?: string;
  /** Only events of this process reach the program's traced probes (library examples). */
  processFilter?: ProcessFilter;
  /** Applied to every parsed map of the run (e.g. naming syscall numbers). */
  mapTransform?: (map: ParsedMap) => ParsedMap;
}

/** An execution came (started) or went (forgotten after the retention period). */
export interface RegistryChange {
  change: "added" | "removed";
  execution: Execution;
}

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
  /** The pid whose process tree no trace may observe (the server's own). */
  serverPid?: number;
  /** The server's own cgroup v2, when it has one: the cheaper way to hide that tree. */
  serverCgroupId?: bigint | null;
  /** Where executions are kept beyond this process (default: in memory only). */
  store?: ExecutionStore;
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
  /** The same, per principal, for its share of the limit. */
  private readonly reservedBy = new Map<string, number>();
  private shuttingDown = false;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly now: () => number;
  /** The bytes all runs' output holds, against BPFTRACE_MCP_OUTPUT_BUDGET_BYTES. */
  readonly outputBudget: OutputBudget;
  /** The policy, with this machine's file checks; validate_program asks it too. */
  readonly gate: ProgramGate;
  readonly store: ExecutionStore;
  private readonly stored: StoredExecutions;
  private readonly watchers = new Set<(change: RegistryChange) => void>();

  constructor(private readonly deps: ExecutionRegistryDeps) {
    this.now = deps.now ?? Date.now;
    this.store = deps.store ?? new MemoryStore();
    this.stored = new StoredExecutions(this.store);
    this.outputBudget = new OutputBudget(deps.config.outputBudgetBytes, () => this.finishedWithOutput());
    this.gate = new ProgramGate(deps.config, deps.logger);
    this.sweepTimer = setInterval(() => this.sweep(), deps.config.cleanupIntervalMs);
    this.sweepTimer.unref();
  }

  /** Checks the program, spawns bpftrace and waits until it attached or failed. */
  async start(program: string, timeoutSeconds: number, options: StartOptions = {}): Promise<StartResult> {
    const { config, audit, host } = this.deps;
    const { principal = LOCAL_PRINCIPAL, tool = "exec_program", processFilter } = options;
    const who = { principal: principal.id, remote: principal.remoteAddress };
    const warnings: string[] = [];
    const programSha256 = sha256(program);
    const source = withFinalNewline(program);
    const decision = await this.gate.check(source);
    if (!decision.allowed) {
      const refusal = formatRefusal(decision);
      pushWarning(warnings, audit.write({ event: "refused", tool, execution_id: null, program_sha256: programSha256, program, decision: "refused", reason: refusal, ...who }));
      throw new BpftraceMcpError("POLICY_REFUSED", `The program was refused by the server's security policy:\n${refusal}`, {
        hint: "Rewrite the program without the refused constructs; the policy is set by the operator, not negotiable from here.",
        details: { violations: decision.violations },
      });
    }
    if (this.shuttingDown) throw new BpftraceMcpError("SHUTTING_DOWN", "The server is shutting down.", { hint: "Reconnect and try again." });
    if (this.runningCount() + this.reserved >= config.maxConcurrent) {
      // Another principal's ids are not named: they would let one caller find the other's runs.
      const running = this.runningOf(principal);
      throw new BpftraceMcpError("TOO_MANY_EXECUTIONS", `${config.maxConcurrent} executions are already running on this server${running.length > 0 ? ` (yours: ${running.join(", ")})` : ""}.`, {
        hint: "Wait for one to finish (get_result with wait_seconds) or end one with stop_execution, then retry.",
      });
    }
    const share = config.maxConcurrentPerPrincipal ?? config.maxConcurrent;
    if (this.runningOf(principal).length + (this.reservedBy.get(principal.id) ?? 0) >= share) {
      throw new BpftraceMcpError("TOO_MANY_EXECUTIONS", `You already run ${share} executions, your share of this server (${this.runningOf(principal).join(", ") || "starting"}).`, {
        hint: "Wait for one of yours to finish (get_result with wait_seconds) or end one with stop_execution, then retry.",
      });
    }
    this.reserved += 1;
    this.reservedBy.set(principal.id, (this.reservedBy.get(principal.id) ?? 0) + 1);
    let ready;
    let child;
    let execution;
    let instrumented;
    try {
      ready = await host.ensureReady();
      const id = `ex-${randomBytes(6).toString("hex")}`;
      execution = new Execution(id, program, timeoutSeconds, this.now(), {
        ringCapacityLines: config.ringCapacityLines,
        ringCapacityBytes: config.ringCapacityBytes,
        // OUTPUT BUDGET: every run's output counts against the server's one limit.
        budget: this.outputBudget,
        ...(options.mapTransform ? { mapTransform: options.mapTransform } : {}),
      }, principal.id);
      execution.example = options.example ?? null;
      instrumented = instrumentProgram(source, decision, {
        serverPid: this.deps.serverPid ?? process.pid,
        cgroupId: this.deps.serverCgroupId ?? null,
        deadlineMs: timeoutSeconds * 1000 + GUARD_SLACK_MS,
        // With missing probes tolerated, a map may exist only in a probe bpftrace drops: print(@it) would not compile.
        snapshotProbe: ready.traits.snapshotProbe && !toleratesMissingProbes(decision),
        ...(processFilter ? { processFilter } : {}),
      });
      // AUDIT (fail closed): the start is recorded before anything runs; a start the log cannot take is refused.
      requireAudited(audit.write({ event: "start", tool, execution_id: id, program_sha256: programSha256, program, decision: "allowed", user: ready.user, privilege: ready.mode, ...who }));
      try {
        child = await host.spawn(ready, ["-e", instrumented.source], {
          // After everything the server itself would have done: attach wait, trace time, SIGINT grace.
          deadlineSeconds: (config.attachWaitMs + timeoutSeconds * 1000 + config.killGraceMs) / 1000 + 1,
          graceSeconds: config.killGraceMs / 1000,
        });
      } catch (error) {
        // Recorded as started: the log must also say it ended, and how.
        const message = error instanceof Error ? error.message : String(error);
        audit.write({ event: "end", tool, execution_id: id, program_sha256: programSha256, program: null, decision: "allowed", status: "failed", error: message, ...who });
        throw error;
      }
      this.executions.set(id, execution);
      this.store.track(execution);
    } finally {
      // Held until the execution is registered, so racing calls cannot exceed the limit.
      this.reserved -= 1;
      const left = (this.reservedBy.get(principal.id) ?? 1) - 1;
      if (left > 0) this.reservedBy.set(principal.id, left);
      else this.reservedBy.delete(principal.id);
    }
    const id = execution.id;
    const supervision = supervise(execution, child, {
      maxLineBytes: config.maxLineBytes,
      // Compiling and attaching get their own allowance on top of the trace time.
      attachLimitMs: config.attachWaitMs + timeoutSeconds * 1000,
      killGraceMs: config.killGraceMs,
      addedProbes: instrumented.addedProbes,
      attachMarker: instrumented.attachMarker,
      expectedProbes: expectedProbeCount(decision, instrumented.addedProbes),
      snapshotMarkers: instrumented.snapshotMarkers,
      endMarkers: instrumented.endMarkers,
      inUserTerms: userTermsFilter(instrumented.source, source),
      now: this.now,
      logger: this.deps.logger,
      onEnd: (ended) => {
        if (ended.error !== null) ended.error = inUserTerms(ended.error, instrumented.source, source);
        this.supervisions.delete(ended.id);
        this.recordEnd(ended, tool, who);
        this.store.ended(ended);
      },
    });
    this.supervisions.set(id, supervision);
    this.tell({ change: "added", execution });
    // Shutdown began while this one was spawning: it ends with the rest.
    if (this.shuttingDown) supervision.stop("shutdown");
    this.deps.logger.info({ executionId: id, timeoutSeconds, programSha256 }, "execution started");

    await Promise.race([supervision.attachedOrEnded, execution.waitForEnd(config.attachWaitMs)]);
    if (execution.attachShortfall) {
      const { attached, expected } = execution.attachShortfall;
      supervision.stop("stop_request");
      await execution.waitForEnd(config.killGraceMs + 6_000);
      throw new BpftraceMcpError("ATTACH_ERROR", `bpftrace attached ${attached} of the program's ${expected} probes (execution ${id}); it skips a uprobe whose symbol does not exist without saying so. The trace was stopped.`, {
        hint: "Check each uprobe's binary and symbol with list_probes (e.g. uprobe:/usr/bin/bash:*), or set config = { missing_probes = \"warn\" } to run with the probes that attach.",
        details: { execution_id: id, attached, expected },
      });
    }
    if (execution.finished && !execution.attached && execution.status === "failed") {
      const stderr = execution.stderrHead.join("\n");
      const sudoFailure = ready.mode === "root" ? null : classifySudoFailure(stderr, ready.mode, ready.user);
      if (sudoFailure) throw sudoFailure;
      const attach = attachFailure(stderr);
      if (attach) {
        throw new BpftraceMcpError("ATTACH_ERROR", `bpftrace compiled the program but could not attach ${attach.probe ?? "a probe"} (execution ${id}):\n${attach.message}`, {
          hint: "bpf_info shows which probe types this kernel supports; list_probes shows which probes exist here. Trace another probe, or set config = { missing_probes = \"warn\" } to run without the missing ones.",
          details: { execution_id: id, probe: attach.probe },
        });
      }
      throw new BpftraceMcpError("COMPILE_ERROR", `bpftrace could not run the program (execution ${id}):\n${execution.error ?? "no message"}`, {
        hint: "Fix the program at the line and column bpftrace names; list_probes with verbose=true shows a probe's argument names and types.",
        details: { execution_id: id },
      });
    }
    return { execution, warnings };
  }

  /**
   * The execution with this id, or a clear error. Another principal's execution gets the same
   * answer as an id that never existed: its existence is not revealed.
   */
  get(id: string, principal: Principal = LOCAL_PRINCIPAL): Execution {
    const found = EXECUTION_ID_PATTERN.test(id) ? this.executions.get(id) : undefined;
    const execution = found && mayAccess(principal, found.ownerId) ? found : undefined;
    if (!execution) {
      throw new BpftraceMcpError("UNKNOWN_EXECUTION", `No execution has the id '${truncate(id, 80)}'.`, {
        hint: "Use an execution_id returned by exec_program; list_executions shows the known ones (finished runs are forgotten after the retention period).",
      });
    }
    return execution;
  }

  /** The executions `principal` may see (its own; an admin's: all), newest first. */
  list(principal: Principal = LOCAL_PRINCIPAL): Execution[] {
    return [...this.executions.values()].filter((execution) => mayAccess(principal, execution.ownerId)).sort((a, b) => b.startedAt - a.startedAt);
  }

  /**
   * The execution with this id, live or from the store (run by an earlier or another server
   * process, or forgotten from memory after the retention period), with get's access rule.
   */
  async resolve(id: string, principal: Principal = LOCAL_PRINCIPAL): Promise<Execution> {
    const live = EXECUTION_ID_PATTERN.test(id) ? this.executions.get(id) : undefined;
    // A finished run whose output the memory budget took back is read from the store, which kept it.
    if (live && !(live.finished && live.outputEvicted && this.store.persistent)) return this.get(id, principal);
    const stored = EXECUTION_ID_PATTERN.test(id) ? await this.stored.find(id, principal) : null;
    if (stored && stored.ring.linesTotal >= (live?.ring.linesTotal ?? 0)) return stored;
    return this.get(id, principal);
  }

  /** A page of what `principal` may see, live and stored, newest first. */
  page(principal: Principal, offset: number, limit: number): Promise<{ total: number; entries: ListedExecution[] }> {
    return this.stored.page(principal, this.list(principal), offset, limit);
  }

  /** Stops (if running) and deletes an execution of `principal`'s own, from memory and the store. */
  async forget(id: string, principal: Principal = LOCAL_PRINCIPAL): Promise<Execution> {
    const execution = await this.resolve(id, principal);
    if (execution.ownerId !== principal.id) {
      throw new BpftraceMcpError("NOT_PERMITTED", `Execution ${id} belongs to another principal: only its owner can forget it.`, { hint: "Forget only executions you started." });
    }
    if (execution.stored && !execution.finished) {
      throw new BpftraceMcpError("NOT_PERMITTED", `Execution ${id} is running in another server process: it can be forgotten once it has ended.`, { hint: "Wait for its end (get_result shows its status), then forget it." });
    }
    if (this.supervisions.has(id)) await this.stop(id, principal);
    const live = this.executions.get(id);
    if (live) {
      this.executions.delete(id);
      live.ring.detach();
    }
    this.stored.evict(id);
    await this.store.forget(id);
    return execution;
  }

  /** Calls `watcher` whenever an execution is added or forgotten, until the returned function is called. */
  watch(watcher: (change: RegistryChange) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  private tell(change: RegistryChange): void {
    for (const watcher of this.watchers) {
      try {
        watcher(change);
      } catch (error) {
        this.deps.logger.error({ err: error instanceof Error ? error.message : String(error) }, "registry watcher failed");
      }
    }
  }

  runningCount(): number {
    return this.supervisions.size;
  }

  /** Ids of the running executions `principal` owns. */
  private runningOf(principal: Principal): string[] {
    const ids: string[] = [];
    for (const id of this.supervisions.keys()) if (this.executions.get(id)?.ownerId === principal.id) ids.push(id);
    return ids;
  }

  /** Asks a running execution to stop and waits (up to the grace period) for it to end. */
  async stop(id: string, principal: Principal = LOCAL_PRINCIPAL): Promise<Execution> {
    const execution = this.get(id, principal);
    const supervision = this.supervisions.get(id);
    if (supervision) {
      supervision.stop("stop_request");
      await execution.waitForEnd(this.deps.config.killGraceMs + 6_000);
    }
    return execution;
  }

  /** Asks bpftrace to print its maps now; false when the run has ended or not attached yet. */
  snapshot(id: string, principal: Principal = LOCAL_PRINCIPAL): boolean {
    this.get(id, principal);
    return this.supervisions.get(id)?.snapshotMaps() ?? false;
  }

  /** Forgets finished executions older than the retention period (the store keeps them); returns how many. */
  sweep(): number {
    this.store.sweep();
    const cutoff = this.now() - this.deps.config.retentionMs;
    let removed = 0;
    for (const [id, execution] of this.executions) {
      if (execution.endedAt !== null && execution.endedAt < cutoff) {
        this.executions.delete(id);
        // Forgotten: its output no longer counts against the budget (it is freed with it).
        execution.ring.detach();
        removed += 1;
        this.tell({ change: "removed", execution });
      }
    }
    return removed;
  }

  /** Finished executions still holding output, the one that ended first first: what the budget evicts. */
  private finishedWithOutput(): Execution[] {
    return [...this.executions.values()]
      .filter((execution) => execution.endedAt !== null && execution.ring.linesTotal > execution.ring.linesDropped)
      .sort((left, right) => (left.endedAt ?? 0) - (right.endedAt ?? 0));
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
    if (stragglers.length > 0) {
      this.deps.logger.warn({ executionIds: stragglers.map(([id]) => id) }, "traces still running at shutdown: forcing them");
      for (const [, supervision] of stragglers) supervision.force();
      await Promise.all(stragglers.map(([id]) => this.executions.get(id)?.waitForEnd(1_000)));
    }
    // The counts of repeated refusals still held back.
    this.deps.audit.flush?.();
    await this.gate.close();
    // Every run's end is written before the process goes.
    await this.store.close();
  }

  private recordEnd(execution: Execution, tool: string, who: { principal: string; remote: string | null }): void {
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
      ...who,
    });
    if (warning) execution.auditWarning = warning;
  }
}

/** A config block that tolerates missing probes: the attach count is open, and a map may sit in a dropped probe. */
function toleratesMissingProbes(decision: PolicyDecision): boolean {
  return decision.configKeys.some((key) => key.toLowerCase().includes("missing_probes"));
}

const WILDCARD = /[*?[\]{]/;

/** Probes bpftrace must report attached; null when a wildcard (or missing_probes) makes the count open. */
function expectedProbeCount(decision: PolicyDecision, added: number): number | null {
  if (toleratesMissingProbes(decision)) return null;
  if (decision.specifiers.some((specifier) => WILDCARD.test(specifier.normalized))) return null;
  return decision.specifiers.length + added;
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
