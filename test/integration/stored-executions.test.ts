import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import type { Principal, Scope } from "../../src/executions/principal.js";
import { createLogger } from "../../src/logger.js";
import { createEngine, type Engine } from "../../src/server.js";
import { InlineBackend } from "../../src/storage/inline-backend.js";
import { SqliteStore } from "../../src/storage/sqlite-store.js";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { callTool, engineSessions, resultText } from "../helpers/in-memory-client.js";

let fakeBpftrace: string;
const scratch = mkdtempSync(join(tmpdir(), "stored-executions-"));
const opened = engineSessions();

beforeAll(() => {
  fakeBpftrace = installFakeBpftrace();
});

afterEach(() => opened.closeAll());

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const principal = (id: string, ...scopes: Scope[]): Principal => ({ id, scopes: new Set(scopes), remoteAddress: "192.0.2.7" });
const ALICE = principal("alice", "bpftrace:trace");
const BOB = principal("bob", "bpftrace:trace");
const ADMIN = principal("root-operator", "bpftrace:admin");

/** An engine whose store is SQLite in `stateDir` (on this thread: the worker needs the built file). */
function engineOn(stateDir: string): Engine {
  const config = loadConfig({ BPFTRACE_PATH: fakeBpftrace, BPFTRACE_MCP_AUDIT_LOG: "off", BPFTRACE_MCP_KILL_GRACE_MS: "400", BPFTRACE_MCP_STATE_DIR: stateDir });
  const logger = createLogger("silent");
  const store = new SqliteStore(new InlineBackend(SqliteStore.settings(config)), join(stateDir, "executions.db"), logger);
  return opened.keep(createEngine({ config, logger, store, hostOptions: { geteuid: () => 0 } }));
}

const clientOf = (engine: Engine, who: Principal | "local" = "local"): Promise<Client> => opened.open(engine, who);
const call = callTool;
const text = resultText;
const structured = <T>(result: CallToolResult): T => result.structuredContent as T;

/** Runs a program that exits by itself and returns its id once it has ended. */
async function runToEnd(client: Client, program: string, timeout = 10): Promise<string> {
  const started = await call(client, "exec_program", { program, timeout });
  expect(started.isError, text(started)).toBeFalsy();
  const { execution_id: executionId } = structured<{ execution_id: string }>(started);
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const page = structured<{ status: string }>(await call(client, "get_result", { execution_id: executionId, wait_seconds: 1, offset: 1_000_000 }));
    if (page.status !== "running") return executionId;
  }
  throw new Error(`${executionId} did not end`);
}

/** A page without what a restart changes by design: `stored`. */
function page(result: CallToolResult): Record<string, unknown> {
  const { stored: _stored, ...rest } = structured<Record<string, unknown>>(result);
  return rest;
}

describe("stored executions through the tools", () => {
  it("pages a finished run identically after a restart, marked stored, in list_executions and get_result", async () => {
    const stateDir = join(scratch, "restart");
    const first = engineOn(stateDir);
    const client = await clientOf(first);
    const executionId = await runToEnd(client, "BEGIN { } // fake: lines=2500 // fake: stderr-flood=3 // fake: exit-after-attach=0");
    const pages = [];
    for (const [offset, limit] of [[0, 1000], [1000, 1000], [2400, 1000], [9999, 5]]) pages.push(await call(client, "get_result", { execution_id: executionId, offset, limit }));
    await opened.end(first);

    const second = engineOn(stateDir);
    const again = await clientOf(second);
    const listed = structured<{ executions: { execution_id: string; stored: boolean; status: string }[]; total: number }>(await call(again, "list_executions"));
    expect(listed).toMatchObject({ total: 1, executions: [{ execution_id: executionId, stored: true, status: "completed" }] });
    const offsets = [[0, 1000], [1000, 1000], [2400, 1000], [9999, 5]];
    for (const [index, [offset, limit]] of offsets.entries()) {
      const stored = await call(again, "get_result", { execution_id: executionId, offset, limit });
      expect(structured<{ stored: boolean }>(stored).stored).toBe(true);
      expect(page(stored)).toEqual(page(pages[index]!));
    }
  });

  it("keeps each principal to its own stored runs (an admin sees all), and only the owner forgets one", async () => {
    const stateDir = join(scratch, "principals");
    const first = engineOn(stateDir);
    const aliceRun = await runToEnd(await clientOf(first, ALICE), "BEGIN { } // fake: lines=3 // fake: exit-after-attach=0");
    await opened.end(first);

    const second = engineOn(stateDir);
    const alice = await clientOf(second, ALICE);
    const bob = await clientOf(second, BOB);
    const admin = await clientOf(second, ADMIN);
    const foreign = await call(bob, "get_result", { execution_id: aliceRun });
    const unknown = await call(bob, "get_result", { execution_id: "ex-000000000000" });
    expect(foreign.isError).toBe(true);
    expect(text(foreign).replace(aliceRun, "ID")).toBe(text(unknown).replace("ex-000000000000", "ID"));
    expect(structured<{ total: number }>(await call(bob, "list_executions")).total).toBe(0);
    expect(structured<{ executions: { execution_id: string }[] }>(await call(admin, "list_executions")).executions.map((execution) => execution.execution_id)).toEqual([aliceRun]);
    expect(text(await call(bob, "stop_execution", { execution_id: aliceRun, forget: true }))).toMatch(/^UNKNOWN_EXECUTION/);
    expect(text(await call(admin, "stop_execution", { execution_id: aliceRun, forget: true }))).toMatch(/^NOT_PERMITTED: .*only its owner can forget it/);

    // A principal is stored by its name; the bearer token it came with (connectInMemoryAs's "test-token") never.
    for (const name of readdirSync(stateDir)) expect(readFileSync(join(stateDir, name)).includes("test-token"), name).toBe(false);
    const forgotten = await call(alice, "stop_execution", { execution_id: aliceRun, forget: true });
    expect(text(forgotten)).toMatch(/^Forgot: /);
    expect(text(await call(alice, "get_result", { execution_id: aliceRun }))).toMatch(/^UNKNOWN_EXECUTION/);
    expect(structured<{ total: number }>(await call(admin, "list_executions")).total).toBe(0);
  });

  it("forgets a running run of this server: stops it, and it is gone from memory and disk", async () => {
    const engine = engineOn(join(scratch, "forget-running"));
    const client = await clientOf(engine);
    const started = structured<{ execution_id: string }>(await call(client, "exec_program", { program: "BEGIN { } // fake: tick-ms=50", timeout: 30 }));
    const forgotten = await call(client, "stop_execution", { execution_id: started.execution_id, forget: true });
    expect(text(forgotten)).toMatch(/^Stopped and forgot: /);
    expect(structured<{ total: number }>(await call(client, "list_executions")).total).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await engine.context.registry.store.load(started.execution_id)).toBeNull();
  });

  it("pages list_executions newest first with a total", async () => {
    const engine = engineOn(join(scratch, "paging"));
    const client = await clientOf(engine);
    const ids = [];
    for (let index = 0; index < 3; index += 1) ids.push(await runToEnd(client, `BEGIN { } // fake: lines=1 // fake: exit-after-attach=0 // ${index}`));
    const first = structured<{ executions: { execution_id: string }[]; total: number }>(await call(client, "list_executions", { limit: 2 }));
    expect(first.total).toBe(3);
    expect(first.executions.map((execution) => execution.execution_id)).toEqual([ids[2], ids[1]]);
    const second = await call(client, "list_executions", { limit: 2, offset: 2 });
    expect(structured<{ executions: { execution_id: string }[] }>(second).executions.map((execution) => execution.execution_id)).toEqual([ids[0]]);
  });

  it("saves a session, runs it again through the policy, and answers with the change the maps show", async () => {
    const stateDir = join(scratch, "sessions");
    const counter = join(scratch, "calls-count");
    writeFileSync(counter, "100");
    const engine = engineOn(stateDir);
    const client = await clientOf(engine);
    // Ends at its 1 s deadline, printing @calls as bpftrace prints maps at exit.
    const program = `BEGIN { } // fake: lines=2 // fake: calls-from=${counter}`;
    const first = await runToEnd(client, program, 1);
    const saved = await call(client, "sessions", { action: "save", name: "calls", execution_ids: [first], note: "before the fix" });
    expect(text(saved)).toMatch(/^Saved session calls: 1 program/);
    writeFileSync(counter, "250");
    const rerun = await call(client, "sessions", { action: "run", name: "calls" });
    expect(rerun.isError, text(rerun)).toBeFalsy();
    const result = structured<{ complete: boolean; items: { before: string; after: string; comparison: { maps: { name: string; largest: unknown[] }[] } }[] }>(rerun);
    expect(result.complete).toBe(true);
    expect(result.items[0]?.before).toBe(first);
    expect(result.items[0]?.comparison.maps).toEqual([expect.objectContaining({ name: "@calls", total: [100, 250], largest: [{ key: "", before: 100, after: 250, delta: 150, relative: 1.5 }] })]);
    expect(text(rerun)).toContain("@calls (value): 1 → 1 keys, total 100 → 250 (+150%)");

    const listed = structured<{ sessions: { name: string; runs: number; items: { execution_id: string }[] }[] }>(await call(client, "sessions", { action: "list" }));
    expect(listed.sessions).toEqual([expect.objectContaining({ name: "calls", runs: 1, items: [expect.objectContaining({ execution_id: result.items[0]?.after })] })]);

    const compared = await call(client, "compare_executions", { before: first, after: result.items[0]!.after });
    expect(structured<{ maps: unknown[] }>(compared).maps).toEqual(result.items[0]?.comparison.maps);
  });

  it("exports a session to a 0600 file and imports it only when every program passes the policy", async () => {
    const stateDir = join(scratch, "export");
    const engine = engineOn(stateDir);
    const client = await clientOf(engine);
    const first = await runToEnd(client, "BEGIN { } // fake: lines=4 // fake: exit-after-attach=0");
    await call(client, "sessions", { action: "save", name: "handover", execution_ids: [first] });
    const exported = await call(client, "sessions", { action: "export", name: "handover" });
    const file = structured<{ file: string }>(exported).file;
    expect(file).toBe(join(stateDir, "sessions", "handover.json"));
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const imported = await call(client, "sessions", { action: "import", file: "handover.json", name: "from-colleague" });
    expect(imported.isError, text(imported)).toBeFalsy();
    const importedRun = structured<{ session: { items: { execution_id: string }[] } }>(imported).session.items[0]!.execution_id;
    expect(importedRun).not.toBe(first);
    const original = await call(client, "get_result", { execution_id: first });
    const copy = await call(client, "get_result", { execution_id: importedRun });
    expect(structured<{ lines: unknown[] }>(copy).lines).toEqual(structured<{ lines: unknown[] }>(original).lines);

    const tampered = JSON.parse(readFileSync(file, "utf8")) as { items: { program: string }[] };
    tampered.items[0]!.program = 'BEGIN { system("id"); }';
    writeFileSync(join(stateDir, "sessions", "tampered.json"), JSON.stringify(tampered));
    const refused = await call(client, "sessions", { action: "import", file: "tampered.json", name: "tampered" });
    expect(text(refused)).toMatch(/^POLICY_REFUSED: Program 1 of the session file was refused/);
    expect(text(await call(client, "sessions", { action: "run", name: "tampered" }))).toMatch(/^UNKNOWN_SESSION/);
    for (const name of ["../etc/passwd", "/etc/passwd", "x.txt"]) expect(text(await call(client, "sessions", { action: "import", file: name }))).toMatch(/^INVALID_ARGUMENT: The session file .* cannot be imported/);
  });

});
