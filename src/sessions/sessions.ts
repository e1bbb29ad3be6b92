// Saved sessions: a named set of programs with their timeouts and latest results, run again as a
// whole (each program through the same policy and limits as exec_program) and compared.
import type { Config } from "../config.js";
import { BpftraceMcpError } from "../errors.js";
import type { Execution } from "../executions/execution.js";
import type { Principal } from "../executions/principal.js";
import { withFinalNewline, type ExecutionRegistry } from "../executions/registry.js";
import type { SavedSession } from "../executions/store.js";
import { formatRefusal } from "../policy/index.js";
import { exportedResult, readSessionFile, SESSION_NAME_PATTERN, storedFromExport, writeSessionFile, type SessionFile } from "./session-file.js";

// Between retries of a start refused because every slot was taken.
const SLOT_RETRY_MS = 250;

/** One program's part of a run: the previous result, the new one, or why it did not run. */
export interface ItemRun {
  program: string;
  before: Execution | null;
  after: Execution | null;
  error: string | null;
}

export class Sessions {
  constructor(
    private readonly registry: ExecutionRegistry,
    private readonly config: Config,
    private readonly now: () => number,
  ) {}

  /** Saves (or replaces) `name` with the programs, timeouts and results of these executions. */
  async save(principal: Principal, name: string, executionIds: readonly string[], note: string | null): Promise<SavedSession> {
    checkName(name);
    const executions = await Promise.all(executionIds.map((id) => this.registry.resolve(id, principal)));
    const existing = await this.registry.store.getSession(principal.id, name);
    const at = this.now();
    const session: SavedSession = {
      ownerId: principal.id,
      name,
      note,
      createdAt: existing?.createdAt ?? at,
      updatedAt: at,
      runs: 0,
      items: executions.map((execution) => ({ program: execution.program, timeoutSeconds: execution.timeoutSeconds, executionId: execution.id })),
    };
    await this.registry.store.saveSession(session);
    return session;
  }

  async get(principal: Principal, name: string): Promise<SavedSession> {
    checkName(name);
    const session = await this.registry.store.getSession(principal.id, name);
    if (!session) {
      throw new BpftraceMcpError("UNKNOWN_SESSION", `No saved session is named '${name}'.`, { hint: "sessions with action=list shows yours; save one with action=save." });
    }
    return session;
  }

  /** Your sessions (an admin's: everyone's), most recently used first. */
  list(principal: Principal, all: boolean): Promise<SavedSession[]> {
    return this.registry.store.listSessions(all ? null : principal.id);
  }

  async delete(principal: Principal, name: string): Promise<void> {
    await this.get(principal, name);
    await this.registry.store.deleteSession(principal.id, name);
  }

  /**
   * Runs every program again, as many at once as the principal's share allows, and waits up to
   * `waitMs` for them to end. The session then points at the new runs.
   */
  async run(principal: Principal, name: string, waitMs: number): Promise<{ session: SavedSession; items: ItemRun[] }> {
    const session = await this.get(principal, name);
    const deadline = this.now() + waitMs;
    const items: ItemRun[] = await Promise.all(
      session.items.map(async (item) => ({ program: item.program, before: item.executionId ? await this.registry.resolve(item.executionId, principal).catch(() => null) : null, after: null, error: null })),
    );
    const share = Math.min(this.config.maxConcurrentPerPrincipal ?? this.config.maxConcurrent, this.config.maxConcurrent);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < session.items.length) {
        const index = next++;
        const item = session.items[index]!;
        const outcome = items[index]!;
        try {
          outcome.after = await this.startWhenFree(principal, item.program, item.timeoutSeconds, deadline);
          await outcome.after.waitForEnd(Math.max(0, deadline - this.now()));
        } catch (error) {
          outcome.error = error instanceof BpftraceMcpError ? `${error.code}: ${error.message}` : String(error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(share, session.items.length)) }, worker));
    const updated: SavedSession = {
      ...session,
      updatedAt: this.now(),
      runs: session.runs + 1,
      items: session.items.map((item, index) => ({ ...item, executionId: items[index]?.after?.id ?? item.executionId })),
    };
    await this.registry.store.saveSession(updated);
    return { session: updated, items };
  }

  /** Writes `<state dir>/sessions/<name>.json`; returns its path. */
  async export(principal: Principal, name: string): Promise<string> {
    const stateDir = this.stateDir();
    const session = await this.get(principal, name);
    const items = await Promise.all(
      session.items.map(async (item) => {
        const result = item.executionId ? await this.registry.resolve(item.executionId, principal).catch(() => null) : null;
        return { program: item.program, timeout_seconds: item.timeoutSeconds, result: result ? exportedResult(result) : null };
      }),
    );
    const file: SessionFile = { format: "bpftrace-mcp-server/session", version: 1, name: session.name, note: session.note, exported_at: new Date(this.now()).toISOString(), items };
    return writeSessionFile(stateDir, file);
  }

  /** Reads an exported session into `name` (default: its own): every program passes the policy again, or nothing is imported. */
  async import(principal: Principal, fileName: string, name: string | undefined): Promise<SavedSession> {
    const file = readSessionFile(this.stateDir(), fileName);
    const sessionName = name ?? file.name;
    checkName(sessionName);
    if (await this.registry.store.getSession(principal.id, sessionName)) {
      throw new BpftraceMcpError("INVALID_ARGUMENT", `A session named '${sessionName}' exists already.`, { hint: "Pass another name, or delete that session first." });
    }
    for (const [index, item] of file.items.entries()) {
      const decision = await this.registry.gate.check(withFinalNewline(item.program));
      if (!decision.allowed) {
        throw new BpftraceMcpError("POLICY_REFUSED", `Program ${index + 1} of the session file was refused by this server's security policy, so nothing was imported:\n${formatRefusal(decision)}`, {
          hint: "Import only sessions whose programs this server's policy accepts (the operator sets it).",
        });
      }
      if (!Number.isInteger(item.timeout_seconds) || item.timeout_seconds < 1 || item.timeout_seconds > this.config.maxTimeoutSeconds) {
        throw new BpftraceMcpError("INVALID_ARGUMENT", `Program ${index + 1} of the session file has a timeout of ${item.timeout_seconds} s; this server allows 1-${this.config.maxTimeoutSeconds}.`, { hint: "Edit the file's timeout_seconds." });
      }
    }
    const stored = file.items.map((item) => (item.result ? storedFromExport(item.result, item.program, item.timeout_seconds, principal.id) : null));
    for (const execution of stored) if (execution) await this.registry.store.put(execution);
    const at = this.now();
    const session: SavedSession = {
      ownerId: principal.id,
      name: sessionName,
      note: file.note,
      createdAt: at,
      updatedAt: at,
      runs: 0,
      items: file.items.map((item, index) => ({ program: item.program, timeoutSeconds: item.timeout_seconds, executionId: stored[index]?.record.id ?? null })),
    };
    await this.registry.store.saveSession(session);
    return session;
  }

  /** Starts through the registry (policy, limits, audit), waiting for a slot while every one is taken. */
  private async startWhenFree(principal: Principal, program: string, timeoutSeconds: number, deadline: number): Promise<Execution> {
    for (;;) {
      try {
        return (await this.registry.start(program, timeoutSeconds, { principal, tool: "sessions" })).execution;
      } catch (error) {
        if (!(error instanceof BpftraceMcpError) || error.code !== "TOO_MANY_EXECUTIONS" || this.now() + SLOT_RETRY_MS > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, SLOT_RETRY_MS).unref());
      }
    }
  }

  private stateDir(): string {
    if (this.config.stateDir === null) {
      throw new BpftraceMcpError("INVALID_ARGUMENT", "Export and import need a state directory, and persistence is off (BPFTRACE_MCP_STATE_DIR=off).", { hint: "The operator can set BPFTRACE_MCP_STATE_DIR." });
    }
    return this.config.stateDir;
  }
}

function checkName(name: string): void {
  if (!SESSION_NAME_PATTERN.test(name)) {
    throw new BpftraceMcpError("INVALID_ARGUMENT", `'${name.slice(0, 80)}' is not a session name.`, { hint: "Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit." });
  }
}
