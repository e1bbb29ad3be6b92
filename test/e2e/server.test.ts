import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { processesWith, tracesWith } from "../helpers/processes.js";
import { SERVER_ENTRY, startServer, textOf, waitFor, type RunningServer } from "../helpers/server-process.js";

const PASSTHROUGH = z.object({}).passthrough();

const EXPECTED_TOOLS = [
  "bpf_info",
  "compare_executions",
  "describe_struct",
  "exec_program",
  "get_example",
  "get_result",
  "list_examples",
  "list_executions",
  "list_probes",
  "sessions",
  "stop_execution",
  "validate_program",
];

describe("the built server over stdio (fake bpftrace)", () => {
  let fake: string;
  let server: RunningServer;

  beforeAll(async () => {
    fake = installFakeBpftrace();
    server = await startServer({ env: { BPFTRACE_PATH: fake } });
  });

  afterAll(async () => {
    await server?.close();
  });

  it("pins the tool list; every tool has a title, a described input schema, an output schema and hints", async () => {
    const { tools } = await server.client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(EXPECTED_TOOLS);
    for (const tool of tools) {
      expect(tool.title, tool.name).toBeTruthy();
      expect(tool.description?.length, tool.name).toBeGreaterThan(20);
      expect(tool.outputSchema, tool.name).toBeDefined();
      expect(tool.annotations?.readOnlyHint, tool.name).toBeTypeOf("boolean");
      for (const [field, schema] of Object.entries(tool.inputSchema.properties ?? {})) {
        expect((schema as { description?: string }).description, `${tool.name}.${field}`).toBeTruthy();
      }
    }
  });

  it("costs an assistant at most 8,000 characters a turn: tools/list and the instructions, as sent", async () => {
    // As sent: the JSON of tools/list plus the instructions, which a client puts in front of the model every turn.
    const listing = await server.client.request({ method: "tools/list", params: {} }, PASSTHROUGH);
    const all = JSON.stringify(listing).length + JSON.stringify(server.client.getInstructions() ?? "").length;
    process.stdout.write(`per-turn cost: ${all} characters for ${EXPECTED_TOOLS.length} tools and the instructions\n`);
    expect(all).toBeLessThanOrEqual(8_000);
  });

  it("keeps the tool list ASCII, so its reply is built one byte per character (a third cheaper)", async () => {
    const listing = JSON.stringify(await server.client.listTools());
    expect(listing.match(/[^\t\n\r -~]/g) ?? []).toEqual([]);
  });

  it("gives the assistant instructions describing the workflow", () => {
    const instructions = server.client.getInstructions() ?? "";
    expect(instructions).toContain("list_probes");
    expect(instructions).toContain("get_result");
  });

  it("runs a trace end to end and pages its output by absolute offset", async () => {
    // Listing the tools makes the SDK client check every structuredContent against its tool's
    // output schema: the server skips that check for get_result (see tools/trusted-output.ts).
    await server.client.listTools();
    const started = await server.call("exec_program", { program: "BEGIN { } // fake: lines=25", timeout: 1 });
    expect(started.isError, textOf(started)).toBeFalsy();
    const executionId = (started.structuredContent as { execution_id: string }).execution_id;
    // Waits for the end (the 1 s timeout), however slow the machine, before paging.
    const ended = await server.call("get_result", { execution_id: executionId, until: "end", wait_seconds: 20, tail: 1 });
    expect((ended.structuredContent as { status: string }).status, textOf(ended)).toBe("timed_out");
    const page = await server.call("get_result", { execution_id: executionId, offset: 10, limit: 5 });
    const result = page.structuredContent as { lines: string[]; next_offset: number; has_more: boolean; lines_total: number; status: string };
    expect(result.lines).toEqual(["line 10", "line 11", "line 12", "line 13", "line 14"]);
    expect(result.next_offset).toBe(15);
    expect(result.has_more).toBe(true);
    expect(result.lines_total).toBe(26);
    expect(result.status).toBe("timed_out");
    // The page's own wording stays ASCII, so ASCII trace output keeps the whole reply one byte per character.
    expect(textOf(page)).toMatch(/^[\t\n\r -~]*$/);
    expect(textOf(page)).toContain("More output: call again with offset 15.");
  });

  it("answers bad arguments with a tool error that says what to change", async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ["exec_program", { program: "" }, /program is empty/],
      ["exec_program", { program: "BEGIN {}", timeout: 0 }, /timeout must be between 1 and 60/],
      ["exec_program", { program: "BEGIN {}", timeout: 61 }, /timeout must be between 1 and 60/],
      ["exec_program", { program: "BEGIN {}", timeout: "ten" }, /timeout/],
      ["exec_program", {}, /program/],
      ["get_result", { execution_id: "../../etc/passwd" }, /execution_id looks like/],
      ["get_result", { execution_id: "ex-000000000000" }, /UNKNOWN_EXECUTION/],
      ["get_result", { execution_id: "ex-000000000000", offset: -1 }, /offset must be 0 or more/],
      ["get_result", { execution_id: "ex-000000000000", limit: 0 }, /limit must be at least 1/],
      ["get_result", { execution_id: "ex-000000000000", wait_seconds: 31 }, /wait_seconds must be at most 30/],
      ["stop_execution", { execution_id: "ex-000000000000" }, /UNKNOWN_EXECUTION/],
      ["list_probes", { filter: "-o /tmp/pwned" }, /Invalid probe filter/],
      ["list_probes", { limit: 0 }, /limit must be at least 1/],
    ];
    for (const [tool, args, message] of cases) {
      const result = await server.call(tool, args);
      expect(result.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
      expect(textOf(result), `${tool} ${JSON.stringify(args)}`).toMatch(message);
    }
  });

  it("logs JSON to stderr only", () => {
    const lines = server.stderr().split("\n").filter((line) => line.trim().length > 0);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
  });
});

describe("process lifecycle of the built server (fake bpftrace)", () => {
  it("writes nothing but JSON-RPC on stdout and exits 0 when stdin closes, stopping its traces", async () => {
    const fake = installFakeBpftrace();
    const pidDir = mkdtempSync(join(tmpdir(), "pids-"));
    const child = spawn(process.execPath, [SERVER_ENTRY], {
      env: { PATH: process.env.PATH ?? "", HOME: pidDir, BPFTRACE_PATH: fake, BPFTRACE_MCP_AUDIT_LOG: "off" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const send = (message: object): void => {
      child.stdin.write(`${JSON.stringify(message)}\n`);
    };
    send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    const pidFile = join(pidDir, "fake.pid");
    send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "exec_program", arguments: { program: `BEGIN { } // fake: pidfile=${pidFile}`, timeout: 60 } } });
    expect(await waitFor(() => stdout.includes('"id":2'), 10_000)).toBe(true);
    const fakePid = Number(readFileSync(pidFile, "utf8"));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const closedAt = Date.now();
    child.stdin.end();
    expect(await exited).toBe(0);
    expect(Date.now() - closedAt).toBeLessThan(3_000);
    expect(processesWith(`pidfile=${pidFile}`)).toEqual([]);
    expect(fakePid).toBeGreaterThan(0);
    for (const line of stdout.split("\n").filter((text) => text.length > 0)) {
      expect((JSON.parse(line) as { jsonrpc: string }).jsonrpc).toBe("2.0");
    }
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`on ${signal} stops every trace and exits 0 within 3 s`, async () => {
      const fake = installFakeBpftrace();
      const marker = `sig-${signal}-${Date.now()}`;
      const server = await startServer({ env: { BPFTRACE_PATH: fake } });
      for (let index = 0; index < 2; index += 1) {
        const started = await server.call("exec_program", { program: `BEGIN { } // ${marker}`, timeout: 60 });
        expect(started.isError, textOf(started)).toBeFalsy();
      }
      expect(tracesWith(marker)).toHaveLength(2);
      const exited = new Promise<number | null>((resolve) => server.transport["_process"]?.once("exit", (code: number | null) => resolve(code)));
      const sentAt = Date.now();
      process.kill(server.pid, signal);
      expect(await exited).toBe(0);
      expect(Date.now() - sentAt).toBeLessThan(3_000);
      expect(processesWith(marker)).toEqual([]);
      await server.close().catch(() => undefined);
    });
  }
});
