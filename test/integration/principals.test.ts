import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AuditRecord } from "../../src/audit/audit-log.js";
import { loadConfig } from "../../src/config.js";
import type { Principal, Scope } from "../../src/executions/principal.js";
import { createLogger } from "../../src/logger.js";
import { createEngine, type Engine } from "../../src/server.js";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { callTool, engineSessions, resultText } from "../helpers/in-memory-client.js";

let fakeBpftrace: string;
const opened = engineSessions();

beforeAll(() => {
  fakeBpftrace = installFakeBpftrace();
});

afterEach(() => opened.closeAll());

const principal = (id: string, ...scopes: Scope[]): Principal => ({ id, scopes: new Set(scopes), remoteAddress: "192.0.2.7" });

function engineWith(overrides: Record<string, string> = {}): { engine: Engine; audit: AuditRecord[] } {
  const config = loadConfig({ BPFTRACE_PATH: fakeBpftrace, BPFTRACE_MCP_AUDIT_LOG: "off", BPFTRACE_MCP_KILL_GRACE_MS: "400", ...overrides });
  const audit: AuditRecord[] = [];
  const engine = createEngine({ config, logger: createLogger("silent"), audit: { write: (record) => (audit.push(record), null) }, hostOptions: { geteuid: () => 0 } });
  return { engine: opened.keep(engine), audit };
}

/** A session of its own on the shared engine, as an HTTP client would have. */
const sessionAs = (engine: Engine, who: Principal | "local"): Promise<Client> => opened.open(engine, who);
const call = callTool;
const text = resultText;

describe("principals on one engine", () => {
  it("keeps an execution invisible to another principal, with the answer an unknown id gets", async () => {
    const { engine } = engineWith();
    const alice = await sessionAs(engine, principal("alice", "bpftrace:trace"));
    const bob = await sessionAs(engine, principal("bob", "bpftrace:trace"));
    const started = await call(alice, "exec_program", { program: "BEGIN { } // fake: tick-ms=100", timeout: 30 });
    const executionId = (started.structuredContent as { execution_id: string }).execution_id;

    for (const tool of ["get_result", "stop_execution"]) {
      const foreign = await call(bob, tool, { execution_id: executionId });
      const unknown = await call(bob, tool, { execution_id: "ex-000000000000" });
      expect(foreign.isError, tool).toBe(true);
      expect(text(foreign)).toMatch(/^UNKNOWN_EXECUTION/);
      expect(text(foreign).replace(executionId, "ID")).toBe(text(unknown).replace("ex-000000000000", "ID"));
    }
    const bobsList = await call(bob, "list_executions");
    expect((bobsList.structuredContent as { executions: unknown[] }).executions).toHaveLength(0);
    // Alice still has it, running: Bob's stop did nothing.
    const mine = await call(alice, "get_result", { execution_id: executionId });
    expect((mine.structuredContent as { status: string }).status).toBe("running");
  });

  it("lets an admin see and stop everyone's executions", async () => {
    const { engine } = engineWith();
    const alice = await sessionAs(engine, principal("alice", "bpftrace:trace"));
    const admin = await sessionAs(engine, principal("ops", "bpftrace:admin"));
    const started = await call(alice, "exec_program", { program: "BEGIN { } // fake: tick-ms=100", timeout: 30 });
    const executionId = (started.structuredContent as { execution_id: string }).execution_id;
    const listed = await call(admin, "list_executions");
    expect((listed.structuredContent as { executions: { execution_id: string }[] }).executions.map((run) => run.execution_id)).toEqual([executionId]);
    const stopped = await call(admin, "stop_execution", { execution_id: executionId });
    expect(stopped.isError).toBeFalsy();
    expect((stopped.structuredContent as { status: string }).status).toBe("stopped");
  });

  it("refuses a tool whose scope the principal lacks, and lets read-only callers discover", async () => {
    const { engine } = engineWith();
    const reader = await sessionAs(engine, principal("reader", "bpftrace:read"));
    const refused = await call(reader, "exec_program", { program: "BEGIN { }", timeout: 1 });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/^INSUFFICIENT_SCOPE: exec_program needs the scope bpftrace:trace/);
    expect((await call(reader, "list_examples", {})).isError).toBeFalsy();
    // An authenticated request that carries no principal is nobody: not the all-powerful local user.
    const anonymous = await sessionAs(engine, { id: 42, scopes: ["bpftrace:admin"] } as unknown as Principal);
    expect(text(await call(anonymous, "list_examples", {}))).toMatch(/^INSUFFICIENT_SCOPE/);
  });

  it("gives each principal its share of the concurrency limit and names only its own runs", async () => {
    const { engine } = engineWith({ BPFTRACE_MCP_MAX_CONCURRENT: "3", BPFTRACE_MCP_MAX_CONCURRENT_PER_PRINCIPAL: "2" });
    const alice = await sessionAs(engine, principal("alice", "bpftrace:trace"));
    const bob = await sessionAs(engine, principal("bob", "bpftrace:trace"));
    const program = { program: "BEGIN { } // fake: tick-ms=100", timeout: 30 };
    const aliceRuns = [await call(alice, "exec_program", program), await call(alice, "exec_program", program)];
    const third = await call(alice, "exec_program", program);
    expect(text(third)).toMatch(/^TOO_MANY_EXECUTIONS: You already run 2 executions, your share/);
    expect((await call(bob, "exec_program", program)).isError).toBeFalsy();
    const full = await call(bob, "exec_program", program);
    expect(text(full)).toMatch(/^TOO_MANY_EXECUTIONS: 3 executions are already running on this server \(yours: ex-/);
    for (const run of aliceRuns) expect(text(full)).not.toContain((run.structuredContent as { execution_id: string }).execution_id);
  });

  it("records the principal and its address on every audit line of a run, and stdio as local", async () => {
    const { engine, audit } = engineWith();
    const alice = await sessionAs(engine, principal("alice", "bpftrace:trace"));
    const local = await sessionAs(engine, "local");
    const started = await call(alice, "exec_program", { program: "BEGIN { } // fake: exit-after-attach=0", timeout: 5 });
    const executionId = (started.structuredContent as { execution_id: string }).execution_id;
    await call(alice, "get_result", { execution_id: executionId, wait_seconds: 5 });
    await call(alice, "exec_program", { program: 'BEGIN { system("id"); }', timeout: 5 });
    await call(local, "validate_program", { program: 'BEGIN { system("id"); }' });
    const alices = audit.filter((record) => record.execution_id === executionId || record.event === "refused");
    expect(alices.map((record) => record.event)).toEqual(expect.arrayContaining(["start", "end", "refused"]));
    for (const record of alices.filter((entry) => entry.tool === "exec_program")) {
      expect(record).toMatchObject({ principal: "alice", remote: "192.0.2.7" });
    }
    expect(audit.filter((record) => record.tool === "validate_program")).toEqual([expect.objectContaining({ principal: "local", remote: null })]);
  });
});
