import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { processesWith } from "../helpers/processes.js";
import { initializeRaw, spawnRawServer, type JsonRpcMessage, type RawServer } from "../helpers/raw-server.js";
import { isAlive, waitFor } from "../helpers/server-process.js";

// What the server (its own stdio transport, src/transports/stdio.ts, over @modelcontextprotocol/sdk
// v1 1.32) does with bad input, pinned here so a change is noticed: a line that is not valid
// JSON-RPC 2.0 gets no reply at all (no -32700; the server logs it), a line over
// BPFTRACE_MCP_MAX_MESSAGE_BYTES gets -32600 and the session goes on, an unknown method gets
// -32601, and requests before `initialize` are served.
const METHOD_NOT_FOUND = -32601;
const INVALID_REQUEST = -32600;
const INTERNAL_ERROR = -32603;
const TEN_MB = 10_000_000;
// BPFTRACE_MCP_MAX_MESSAGE_BYTES' default.
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
// The SDK's own StdioServerTransport closed the session for good past this (STDIO_DEFAULT_MAX_BUFFER_SIZE).
const SDK_READ_BUFFER_BYTES = 10 * 1024 * 1024;

const ping = (id: string | number): object => ({ jsonrpc: "2.0", id, method: "ping" });
const protocolErrorLogs = (server: RawServer): string[] => server.stderr().split("\n").filter((line) => line.includes("protocol error: message ignored"));

let fake: string;
beforeAll(() => {
  fake = installFakeBpftrace();
});
afterAll(() => {
  rmSync(dirname(fake), { recursive: true, force: true });
});

describe("the built server fed malformed JSON-RPC on raw pipes (fake bpftrace)", () => {
  let server: RawServer;
  let pingCounter = 0;

  /** The server still answers a fresh request; proves it survived whatever came before. */
  async function expectStillAnswering(): Promise<void> {
    const id = `alive-${(pingCounter += 1)}`;
    server.send(ping(id));
    expect(await server.responseTo(id)).toEqual({ jsonrpc: "2.0", id, result: {} });
    expect(isAlive(server.pid)).toBe(true);
  }

  beforeAll(async () => {
    server = spawnRawServer({ BPFTRACE_PATH: fake });
    await initializeRaw(server);
  });

  afterEach(() => {
    // Never a stray byte on the protocol channel, whatever was thrown at stdin.
    expect(server.strayLines()).toEqual([]);
    expect(server.partialStdout().length).toBe(0);
  });

  afterAll(async () => {
    expect(await server.stop()).toEqual({ code: 0, signal: null });
  });

  it("ignores a truncated JSON line without replying, logs it on stderr, and answers the next request", async () => {
    const logsBefore = protocolErrorLogs(server).length;
    server.write('{"jsonrpc":"2.0","id":"truncated","method":"pi\n');
    await expectStillAnswering();
    expect(server.responsesTo("truncated")).toEqual([]);
    expect(protocolErrorLogs(server).length).toBe(logsBefore + 1);
    expect(protocolErrorLogs(server).at(-1)).toMatch(/Unterminated string in JSON/);
  });

  it("answers a request whose strings hold invalid UTF-8 (decoded as U+FFFD) and drops a line whose invalid bytes break the JSON", async () => {
    server.write(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":"utf8-in-string","method":"ping","params":{"_meta":{"note":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}}}\n')]));
    server.write(Buffer.concat([Buffer.from([0xc0, 0xaf, 0xff]), Buffer.from(JSON.stringify(ping("utf8-before-json"))), Buffer.from("\n")]));
    expect(await server.responseTo("utf8-in-string")).toEqual({ jsonrpc: "2.0", id: "utf8-in-string", result: {} });
    await expectStillAnswering();
    expect(server.responsesTo("utf8-before-json")).toEqual([]);
    expect(protocolErrorLogs(server).at(-1)).toMatch(/is not valid JSON/);
  });

  it("accepts a line just under BPFTRACE_MCP_MAX_MESSAGE_BYTES and answers it", async () => {
    const line = `{"jsonrpc":"2.0","id":"under-cap","method":"ping","params":{"_meta":{"padding":"${"a".repeat(MAX_MESSAGE_BYTES - 200)}"}}}\n`;
    expect(line.length - 1).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    server.write(line);
    expect(await server.responseTo("under-cap", 30_000)).toEqual({ jsonrpc: "2.0", id: "under-cap", result: {} });
    await expectStillAnswering();
  });

  it("answers a 10 MB line (over BPFTRACE_MCP_MAX_MESSAGE_BYTES) with -32600 for its id, without reading it, and keeps answering", async () => {
    const line = `{"jsonrpc":"2.0","id":"ten-mb","method":"ping","params":{"_meta":{"padding":"${"a".repeat(TEN_MB)}"}}}\n`;
    server.write(line);
    const answer = await server.responseTo("ten-mb", 30_000);
    expect(answer).toMatchObject({ jsonrpc: "2.0", id: "ten-mb", error: { code: INVALID_REQUEST, data: { bytes: line.length - 1, limit: MAX_MESSAGE_BYTES } } });
    expect(answer.result).toBeUndefined();
    await expectStillAnswering();
  });

  it("answers an unknown method with -32601 Method not found", async () => {
    server.send({ jsonrpc: "2.0", id: "unknown", method: "bpftrace/launch_missiles", params: {} });
    expect(await server.responseTo("unknown")).toEqual({ jsonrpc: "2.0", id: "unknown", error: { code: METHOD_NOT_FOUND, message: "Method not found" } });
    await expectStillAnswering();
  });

  it("treats a notification that carries an id as a request, answering -32601", async () => {
    server.send({ jsonrpc: "2.0", id: "notif-initialized", method: "notifications/initialized" });
    server.send({ jsonrpc: "2.0", id: "notif-cancelled", method: "notifications/cancelled", params: { requestId: "nothing" } });
    for (const id of ["notif-initialized", "notif-cancelled"]) {
      expect(await server.responseTo(id)).toEqual({ jsonrpc: "2.0", id, error: { code: METHOD_NOT_FOUND, message: "Method not found" } });
    }
    await expectStillAnswering();
  });

  it("answers each of two requests that share an id", async () => {
    server.write(`${JSON.stringify(ping("twice"))}\n${JSON.stringify(ping("twice"))}\n`);
    await expectStillAnswering();
    expect(server.responsesTo("twice")).toEqual([
      { jsonrpc: "2.0", id: "twice", result: {} },
      { jsonrpc: "2.0", id: "twice", result: {} },
    ]);
  });

  it("drops a JSON-RPC batch array without replying to any member (MCP 2025-06-18 removed batches)", async () => {
    server.send([ping("batch-1"), ping("batch-2"), { jsonrpc: "2.0", id: "batch-3", method: "tools/list" }]);
    await expectStillAnswering();
    for (const id of ["batch-1", "batch-2", "batch-3"]) expect(server.responsesTo(id), id).toEqual([]);
    expect(protocolErrorLogs(server).at(-1)).toMatch(/invalid_union|expected/);
  });

  it("stays silent on notifications, unsolicited responses and anything that is not JSON-RPC 2.0", async () => {
    const before = server.messages().length;
    const lines = [
      JSON.stringify({ jsonrpc: "2.0", method: "ping" }),
      JSON.stringify({ jsonrpc: "2.0", method: "notifications/no_such_thing", params: { x: 1 } }),
      JSON.stringify({ jsonrpc: "1.0", id: "old-version", method: "ping" }),
      JSON.stringify({ id: "no-version", method: "ping" }),
      JSON.stringify({ jsonrpc: "2.0", id: null, method: "ping" }),
      JSON.stringify({ jsonrpc: "2.0", id: 1.5, method: "ping" }),
      JSON.stringify({ jsonrpc: "2.0", id: { nested: true }, method: "ping" }),
      JSON.stringify({ jsonrpc: "2.0", id: "no-method" }),
      JSON.stringify({ jsonrpc: "2.0", id: 424242, result: {} }),
      JSON.stringify({ jsonrpc: "2.0", id: 434343, error: { code: 1, message: "x" } }),
      "null",
      "42",
      '"a string"',
      "{}",
      "[]",
      "",
      "   \t ",
      "\r",
    ];
    server.write(`${lines.join("\n")}\n`);
    await expectStillAnswering();
    // Only the liveness ping was answered.
    expect(server.messages().slice(before).map((message) => message.id)).toEqual([`alive-${pingCounter}`]);
  });

  it("answers malformed tools/call params with -32603 (SDK v1) and an unknown tool with an isError result", async () => {
    server.send({ jsonrpc: "2.0", id: "call-no-name", method: "tools/call", params: {} });
    server.send({ jsonrpc: "2.0", id: "call-string-args", method: "tools/call", params: { name: "get_result", arguments: "ex-000000000000" } });
    server.send({ jsonrpc: "2.0", id: "call-no-tool", method: "tools/call", params: { name: "rm_rf", arguments: {} } });
    for (const id of ["call-no-name", "call-string-args"]) {
      const response = await server.responseTo(id);
      expect(response.error?.code, id).toBe(INTERNAL_ERROR);
      expect(response.error?.message, id).toMatch(/invalid_type/);
    }
    const unknownTool = await server.responseTo("call-no-tool");
    expect(unknownTool.result).toEqual({ content: [{ type: "text", text: "MCP error -32602: Tool rm_rf not found" }], isError: true });
    await expectStillAnswering();
  });

  it("answers 10,000 requests pipelined in one write, each exactly once", async () => {
    const count = 10_000;
    const ids = Array.from({ length: count }, (_, index) => `flood-${index}`);
    // Every hundredth request is a real tool call, so the flood goes through the tool layer too.
    const requests = ids.map((id, index) =>
      index % 100 === 0 ? { jsonrpc: "2.0", id, method: "tools/call", params: { name: "list_executions", arguments: {} } } : ping(id),
    );
    const startedAt = Date.now();
    server.write(`${requests.map((request) => JSON.stringify(request)).join("\n")}\n`);
    const wanted = new Set(ids);
    const answered = (): JsonRpcMessage[] => server.messages().filter((message) => typeof message.id === "string" && wanted.has(message.id));
    expect(await waitFor(() => answered().length >= count, 60_000, 20)).toBe(true);
    const elapsedMs = Date.now() - startedAt;
    const responses = answered();
    expect(responses).toHaveLength(count);
    expect(new Set(responses.map((message) => message.id)).size).toBe(count);
    expect(responses.filter((message) => message.error !== undefined)).toEqual([]);
    expect(responses.filter((message) => (message.result as { isError?: boolean }).isError === true)).toEqual([]);
    expect(elapsedMs).toBeLessThan(30_000);
    await expectStillAnswering();
  });

  it("still runs a trace end to end after all of the above", async () => {
    server.send({ jsonrpc: "2.0", id: "exec", method: "tools/call", params: { name: "exec_program", arguments: { program: "BEGIN { } // fake: lines=3", timeout: 1 } } });
    const started = (await server.responseTo("exec")).result as { isError?: boolean; structuredContent: { execution_id: string; status: string } };
    expect(started.isError).toBeUndefined();
    expect(started.structuredContent.status).toBe("running");
    let status = "running";
    const lines: string[] = [];
    const maps: unknown[] = [];
    for (let attempt = 0, offset = 0; status === "running" && attempt < 20; attempt += 1) {
      const id = `result-${attempt}`;
      const args = { execution_id: started.structuredContent.execution_id, wait_seconds: 2, offset };
      server.send({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "get_result", arguments: args } });
      const page = (await server.responseTo(id, 15_000)).result as { structuredContent: { status: string; lines: string[]; next_offset: number; maps: { name: string; entries: { value: number }[] }[] } };
      status = page.structuredContent.status;
      lines.push(...page.structuredContent.lines);
      maps.push(...page.structuredContent.maps);
      offset = page.structuredContent.next_offset;
    }
    expect(status).toBe("timed_out");
    // The map bpftrace printed at exit comes parsed, its text folded into one line.
    expect(lines).toEqual(["line 0", "line 1", "line 2", "[maps: @calls 1 entry; parsed in maps]"]);
    expect(maps).toMatchObject([{ name: "@calls", entries: [{ key: [], value: 42 }] }]);
  });
});

describe("requests before initialize (fake bpftrace)", () => {
  it("serves tools/list and ping before initialize, as SDK v1 does (it has no initialization gate)", async () => {
    const server = spawnRawServer({ BPFTRACE_PATH: fake });
    server.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    server.send(ping(2));
    const tools = (await server.responseTo(1)).result as { tools: { name: string }[] };
    expect(tools.tools.map((tool) => tool.name)).toHaveLength(12);
    expect(await server.responseTo(2)).toEqual({ jsonrpc: "2.0", id: 2, result: {} });
    expect((await initializeRaw(server)).result).toMatchObject({ serverInfo: { name: "bpftrace-mcp-server" } });
    expect(server.strayLines()).toEqual([]);
    expect(await server.stop()).toEqual({ code: 0, signal: null });
  });
});

describe("a line larger than the SDK's read buffer (fake bpftrace)", () => {
  it("is answered with -32600 (id null when it cannot be known) while the session and its traces go on", async () => {
    const server = spawnRawServer({ BPFTRACE_PATH: fake });
    await initializeRaw(server);
    const marker = `overflow-${process.pid}-${Date.now()}`;
    server.send({ jsonrpc: "2.0", id: "exec", method: "tools/call", params: { name: "exec_program", arguments: { program: `BEGIN { } // ${marker}`, timeout: 60 } } });
    await server.responseTo("exec");
    const tracing = processesWith(marker).length;
    expect(tracing).toBeGreaterThan(0);
    // The id comes last: the server cannot know it without reading the whole line.
    server.write(`{"jsonrpc":"2.0","method":"ping","params":{"_meta":{"padding":"${"b".repeat(SDK_READ_BUFFER_BYTES)}"}},"id":"huge"}\n`);
    server.send(ping("after-huge"));
    expect(await server.responseTo("after-huge", 30_000)).toEqual({ jsonrpc: "2.0", id: "after-huge", result: {} });
    expect(server.messages().filter((message) => message.id === null && message.error?.code === INVALID_REQUEST)).toHaveLength(1);
    expect(server.responsesTo("huge")).toEqual([]);
    expect(isAlive(server.pid)).toBe(true);
    expect(processesWith(marker)).toHaveLength(tracing);
    expect(server.stderr()).not.toMatch(/"reason":"MCP transport closed"/);
    expect(server.strayLines()).toEqual([]);
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    expect(await waitFor(() => processesWith(marker).length === 0, 5_000)).toBe(true);
  });
});
