// The program gate as the registry and validate_program use it: the policy (src/policy/) with this
// machine's file checks, run on a worker thread for programs big enough to hold up the event loop.

import { constants } from "node:fs";
import { release } from "node:os";
import { Worker } from "node:worker_threads";
import { isAccessibleFile } from "../bpftrace/host.js";
import { includeDirectories, isHeaderReadable } from "../bpftrace/include-paths.js";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import { checkProgram, type PolicyDecision, type PolicyOptions } from "../policy/index.js";

/** What the gate needs of the config: no secret crosses to the worker. */
export interface GateSettings {
  allow: Config["allow"];
  maxProgramBytes: number;
  maxProgramLines: number;
}

/** The gate's settings from the server's config: the one place both exec_program and validate_program take them from. */
export function policyOptions(settings: GateSettings): PolicyOptions {
  return {
    allow: new Set(settings.allow),
    maxBytes: settings.maxProgramBytes,
    maxLines: settings.maxProgramLines,
    // A uprobe/usdt target must be a regular file the server's own (real) user could read.
    canRead: (path) => isAccessibleFile(path, constants.R_OK),
    // So must the file an #include <name.h> resolves to.
    canReadHeader: (header) => isHeaderReadable(header, includeDirectories(release())),
  };
}

// Checking takes about 0.1 ms per 100 bytes of program here (a 64 KiB program 7-30 ms): a program
// this small is checked at once, a bigger one on the worker so other requests are served meanwhile.
const INLINE_MAX_BYTES = 4_096;

interface Pending {
  resolve: (decision: PolicyDecision) => void;
  program: string;
}

/** Decides programs; big ones on a worker thread, started on first need and reused. */
export class ProgramGate {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** How many checks ran where (tests and the bench read it). */
  readonly checked = { inline: 0, worker: 0 };

  constructor(
    private readonly settings: GateSettings,
    private readonly logger: Logger,
    private readonly inlineMaxBytes = INLINE_MAX_BYTES,
  ) {}

  /** The policy's decision on `program` (with its final newline). Never rejects: a broken worker means checking here. */
  check(program: string): Promise<PolicyDecision> {
    if (Buffer.byteLength(program) <= this.inlineMaxBytes || this.closed) return Promise.resolve(this.checkHere(program));
    const worker = this.workerOrNull();
    if (worker === null) return Promise.resolve(this.checkHere(program));
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve, program });
      // Held only while a check is pending: an idle worker never keeps the process alive.
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ id, program });
    });
  }

  /** Ends the worker; later checks run on the calling thread. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    this.failPending();
    if (worker) await worker.terminate();
  }

  private checkHere(program: string): PolicyDecision {
    this.checked.inline += 1;
    return checkProgram(program, policyOptions(this.settings));
  }

  private workerOrNull(): Worker | null {
    if (this.worker) return this.worker;
    try {
      const worker = new Worker(new URL("./gate-worker.js", import.meta.url), { workerData: this.settings, name: "bpftrace-mcp-gate" });
      worker.unref();
      worker.on("message", (message: { id: number; decision: PolicyDecision }) => {
        const entry = this.pending.get(message.id);
        if (!entry) return;
        this.pending.delete(message.id);
        if (this.pending.size === 0) worker.unref();
        this.checked.worker += 1;
        entry.resolve(message.decision);
      });
      const lost = (reason: string): void => {
        if (this.worker !== worker) return;
        this.worker = null;
        this.logger.warn({ reason }, "policy worker ended: checking on the main thread until it is restarted");
        this.failPending();
      };
      worker.on("error", (error) => lost(error.message));
      worker.on("exit", (code) => lost(`exit ${code}`));
      this.worker = worker;
      return worker;
    } catch (error) {
      this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, "policy worker could not start: checking on the main thread");
      return null;
    }
  }

  /** Answers every pending check on this thread: a check is never lost with its worker. */
  private failPending(): void {
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const entry of entries) entry.resolve(this.checkHere(entry.program));
  }
}
