import { request } from "node:http";
import { writeFileSync } from "node:fs";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { hashToken, readTokenFile, writeTokenFile } from "../../src/auth/token-file.js";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { callTool, connectHttp, INITIALIZE, postRaw, startTestHttp, toolCall, type TestHttpServer } from "../helpers/http-server.js";

let fakeBpftrace: string;
const servers: TestHttpServer[] = [];

beforeAll(() => {
  fakeBpftrace = installFakeBpftrace();
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serverWith(env: Record<string, string> = {}, logSink?: string[]): Promise<TestHttpServer> {
  const server = await startTestHttp({
    bpftracePath: fakeBpftrace,
    tokens: { alice: ["bpftrace:trace"], bob: ["bpftrace:trace"], reader: ["bpftrace:read"], ops: ["bpftrace:admin"] },
    env,
    hostOptions: { geteuid: () => 0 },
    ...(logSink ? { logSink } : {}),
  });
  servers.push(server);
  return server;
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const structured = <T>(result: { structuredContent?: unknown }): T => result.structuredContent as T;
const textOf = (result: { content: unknown }): string => (result.content as { type: string; text?: string }[]).map((block) => block.text ?? "").join("\n");

/** A raw request through node:http, which (unlike fetch) sends any Host header it is given. */
function rawRequest(url: string, options: { method: string; headers: Record<string, string>; body?: string; setHost?: boolean }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const outgoing = request({ host: target.hostname, port: target.port, path: target.pathname, method: options.method, headers: options.headers, setHost: options.setHost ?? true }, (incoming) => {
      let body = "";
      incoming.setEncoding("utf8");
      incoming.on("data", (chunk: string) => (body += chunk));
      incoming.on("end", () => resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body }));
    });
    outgoing.on("error", reject);
    outgoing.end(options.body);
  });
}

/** The JSON-RPC result of a POST answered as SSE or JSON. */
async function rpcResult(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  const data = text.includes("data: ") ? text.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).pop() ?? "" : text;
  return JSON.parse(data) as Record<string, unknown>;
}

describe("authentication over HTTP: nothing is served without a valid token, even on loopback", () => {
  it("answers 401 with a Bearer challenge to a request without a token, a malformed header or an unknown token", async () => {
    const server = await serverWith();
    for (const headers of [{}, { authorization: "Basic abc" }, { authorization: "Bearer " }, bearer("bmcp_not-a-real-token"), bearer(`${server.tokens.alice ?? ""}x`)]) {
      const response = await postRaw(server.url, INITIALIZE, headers);
      expect(response.status, JSON.stringify(headers)).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer error="invalid_token"/);
      expect(await response.text()).not.toContain("bmcp_");
    }
    // GET and DELETE too.
    for (const method of ["GET", "DELETE"]) expect((await fetch(server.url, { method })).status).toBe(401);
  });

  it("serves an SDK client holding a static token: initialize, tools/list and a tool call", async () => {
    const server = await serverWith();
    const client = await server.connect(server.tokens.alice ?? "");
    const tools = await client.listTools();
    expect(tools.tools.map((tool) => tool.name)).toContain("exec_program");
    const listed = await callTool(client, "list_executions");
    expect(listed.isError).toBeFalsy();
  });

  it("refuses a token revoked from the file from the next request on, in a session already open", async () => {
    const server = await serverWith();
    const client = await server.connect(server.tokens.bob ?? "");
    expect((await callTool(client, "list_executions")).isError).toBeFalsy();
    writeTokenFile(
      server.tokensFile,
      readTokenFile(server.tokensFile).filter((entry) => entry.name !== "bob"),
    );
    await expect(callTool(client, "list_executions")).rejects.toThrow(/invalid_token/);
    // Bob's open session (its GET stream included) is closed, not left to idle out.
    expect(server.running.sessions.size).toBe(0);
    const fresh = await postRaw(server.url, INITIALIZE, bearer(server.tokens.bob ?? ""));
    expect(fresh.status).toBe(401);
    // Alice's token still works.
    expect((await postRaw(server.url, INITIALIZE, bearer(server.tokens.alice ?? ""))).status).toBe(200);
  });

  it("authenticates nobody while the tokens file is readable by others (fail closed), and again once fixed", async () => {
    const server = await serverWith();
    const entries = readTokenFile(server.tokensFile);
    writeFileSync(server.tokensFile, `${entries.map((entry) => `${entry.name} ${entry.scopes.join(",")} ${entry.sha256}`).join("\n")}\n`, { mode: 0o644 });
    const { chmodSync } = await import("node:fs");
    chmodSync(server.tokensFile, 0o644);
    expect((await postRaw(server.url, INITIALIZE, bearer(server.tokens.alice ?? ""))).status).toBe(401);
    chmodSync(server.tokensFile, 0o600);
    expect((await postRaw(server.url, INITIALIZE, bearer(server.tokens.alice ?? ""))).status).toBe(200);
    expect(hashToken(server.tokens.alice ?? "")).toBe(entries.find((entry) => entry.name === "alice")?.sha256);
  });
});

describe("scopes over HTTP", () => {
  it("answers 403 insufficient_scope naming bpftrace:trace when a read token calls exec_program, before any tool runs", async () => {
    const server = await serverWith();
    const response = await postRaw(server.url, toolCall("exec_program", { program: "BEGIN { exit(); }" }), bearer(server.tokens.reader ?? ""));
    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toMatch(/error="insufficient_scope", scope="bpftrace:trace"/);
    expect(await response.json()).toMatchObject({ error: "insufficient_scope", scope: "bpftrace:trace" });
    expect(server.audit).toEqual([]);
  });

  it("lets a read token discover (tools/list, list_probes, list_examples) but not list executions", async () => {
    const server = await serverWith();
    const client = await server.connect(server.tokens.reader ?? "");
    expect((await client.listTools()).tools.length).toBeGreaterThan(5);
    expect((await callTool(client, "list_probes", { filter: "tracepoint:syscalls:*" })).isError).toBeFalsy();
    expect((await callTool(client, "list_examples", {})).isError).toBeFalsy();
    await expect(callTool(client, "list_executions")).rejects.toThrow(/403|insufficient_scope/);
  });

  it("answers 403 naming the highest scope a batch needs", async () => {
    const server = await serverWith();
    const batch = `[${toolCall("list_examples", {}, 1)},${toolCall("stop_execution", { execution_id: "ex-000000000000" }, 2)}]`;
    const response = await postRaw(server.url, batch, bearer(server.tokens.reader ?? ""));
    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toContain('scope="bpftrace:trace"');
  });
});

describe("rebinding, body and rate limits", () => {
  it("answers 403 to a Host header that is not a loopback name or the public URL's host, and serves the allowed ones", async () => {
    const server = await serverWith();
    const port = new URL(server.url).port;
    const headers = { ...bearer(server.tokens.alice ?? ""), "content-type": "application/json", accept: "application/json, text/event-stream" };
    for (const host of ["evil.example", `evil.example:${port}`, "localhost.evil.example", "127.0.0.1.nip.io", "evil@localhost", "localhost/evil", "[::1]evil"]) {
      const answer = await rawRequest(server.url, { method: "POST", headers: { ...headers, host }, body: INITIALIZE });
      expect(answer.status, host).toBe(403);
      expect(answer.body).not.toContain("evil");
    }
    const missing = await rawRequest(server.url, { method: "POST", headers, body: INITIALIZE, setHost: false });
    // Node's HTTP server itself refuses an HTTP/1.1 request without Host, before any of ours runs.
    expect(missing.status, "no Host header").toBe(400);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, "LOCALHOST"]) {
      const answer = await rawRequest(server.url, { method: "POST", headers: { ...headers, host }, body: INITIALIZE });
      expect(answer.status, host).toBe(200);
    }
  });

  it("answers 403 to a foreign Origin, before looking at the token; loopback origins get CORS headers", async () => {
    const server = await serverWith();
    const refused = await postRaw(server.url, INITIALIZE, { origin: "http://evil.example", ...bearer(server.tokens.alice ?? "") });
    expect(refused.status).toBe(403);
    const anonymous = await postRaw(server.url, INITIALIZE, { origin: "https://evil.example" });
    expect(anonymous.status).toBe(403);
    const local = await postRaw(server.url, INITIALIZE, { origin: "http://localhost:6274", ...bearer(server.tokens.alice ?? "") });
    expect(local.status).toBe(200);
    expect(local.headers.get("access-control-allow-origin")).toBe("http://localhost:6274");
    const preflight = await fetch(server.url, { method: "OPTIONS", headers: { origin: "http://127.0.0.1:6274", "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-headers")).toContain("authorization");
  });

  it("answers 413 to a body over BPFTRACE_MCP_MAX_MESSAGE_BYTES, and only once authenticated", async () => {
    const server = await serverWith({ BPFTRACE_MCP_MAX_MESSAGE_BYTES: "65536" });
    const big = toolCall("validate_program", { program: `// ${"x".repeat(70_000)}\nBEGIN { exit(); }` });
    const response = await postRaw(server.url, big, bearer(server.tokens.alice ?? ""));
    expect(response.status).toBe(413);
    expect(await response.text()).not.toContain("xxxx");
    expect((await postRaw(server.url, big, {})).status).toBe(401);
    // A body just under the limit is served.
    const fits = toolCall("validate_program", { program: `// ${"x".repeat(60_000)}\nBEGIN { exit(); }` });
    expect((await postRaw(server.url, fits, bearer(server.tokens.alice ?? ""))).status).toBe(200);
  });

  it("answers 415 to a compressed body instead of inflating it", async () => {
    const server = await serverWith();
    const { gzipSync } = await import("node:zlib");
    const response = await fetch(server.url, { method: "POST", body: gzipSync(Buffer.from(toolCall("list_examples"))), headers: { "content-type": "application/json", "content-encoding": "gzip", accept: "application/json, text/event-stream", ...bearer(server.tokens.alice ?? "") } });
    expect(response.status).toBe(415);
  });

  it("answers 400 to a body that is not JSON, without echoing it", async () => {
    const server = await serverWith();
    const response = await postRaw(server.url, '{"jsonrpc": "2.0", "secret-ish": ', bearer(server.tokens.alice ?? ""));
    expect(response.status).toBe(400);
    expect(await response.text()).not.toContain("secret-ish");
  });

  it("answers 429 with Retry-After once a principal passes its rate, while another principal is still served", async () => {
    const server = await serverWith({ BPFTRACE_MCP_HTTP_RATE_LIMIT: "2" });
    const statuses: number[] = [];
    for (let index = 0; index < 6; index += 1) statuses.push((await postRaw(server.url, toolCall("list_examples"), bearer(server.tokens.alice ?? ""))).status);
    expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200]);
    expect(statuses.slice(4)).toEqual([429, 429]);
    const limited = await postRaw(server.url, toolCall("list_examples"), bearer(server.tokens.alice ?? ""));
    expect(limited.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    expect((await postRaw(server.url, toolCall("list_examples"), bearer(server.tokens.bob ?? ""))).status).toBe(200);
  });

  it("answers 404 to other paths and 405 to other methods, with nothing more", async () => {
    const server = await serverWith();
    const other = await fetch(new URL("/admin", server.url), { headers: bearer(server.tokens.alice ?? "") });
    expect(other.status).toBe(404);
    const put = await fetch(server.url, { method: "PUT", headers: bearer(server.tokens.alice ?? "") });
    expect(put.status).toBe(405);
    expect(put.headers.get("x-powered-by")).toBeNull();
    // A malformed escape in the path is the request's fault: 400, not 500.
    const malformed = await rawRequest(server.url.replace("/mcp", "/mcp%ZZ"), { method: "GET", headers: bearer(server.tokens.alice ?? "") });
    expect([400, 404]).toContain(malformed.status);
  });
});

describe("sessions over HTTP", () => {
  it("answers a request without a session (stateless) as well as one in a session", async () => {
    const server = await serverWith();
    const response = await postRaw(server.url, toolCall("list_examples", { query: "disk" }), bearer(server.tokens.alice ?? ""));
    expect(response.status).toBe(200);
    const answer = await rpcResult(response);
    expect(JSON.stringify(answer.result)).toContain("block-io");
    expect(server.running.sessions.size).toBe(0);
  });

  it("tells another principal that a session does not exist (404), as for an unknown id", async () => {
    const server = await serverWith();
    const opened = await postRaw(server.url, INITIALIZE, bearer(server.tokens.alice ?? ""));
    const sessionId = opened.headers.get("mcp-session-id") ?? "";
    expect(sessionId).not.toBe("");
    const call = toolCall("list_executions");
    const headers = { "mcp-protocol-version": "2025-11-25" };
    const foreign = await postRaw(server.url, call, { ...headers, "mcp-session-id": sessionId, ...bearer(server.tokens.bob ?? "") });
    const unknown = await postRaw(server.url, call, { ...headers, "mcp-session-id": "00000000-0000-4000-8000-000000000000", ...bearer(server.tokens.bob ?? "") });
    expect(foreign.status).toBe(404);
    expect(await foreign.text()).toBe(await unknown.text());
    const own = await postRaw(server.url, call, { ...headers, "mcp-session-id": sessionId, ...bearer(server.tokens.alice ?? "") });
    expect(own.status).toBe(200);
    // Bob cannot close it either.
    const deleted = await fetch(server.url, { method: "DELETE", headers: { "mcp-session-id": sessionId, ...bearer(server.tokens.bob ?? "") } });
    expect(deleted.status).toBe(404);
    expect(server.running.sessions.size).toBe(1);
  });

  it("answers 503 past BPFTRACE_MCP_HTTP_MAX_SESSIONS to a principal holding none, and has room again once one is closed", async () => {
    const server = await serverWith({ BPFTRACE_MCP_HTTP_MAX_SESSIONS: "3" });
    const clients: Client[] = [];
    for (let index = 0; index < 3; index += 1) clients.push(await server.connect(server.tokens.alice ?? ""));
    const refused = await postRaw(server.url, INITIALIZE, bearer(server.tokens.bob ?? ""));
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("60");
    // Stateless requests need no slot.
    expect((await postRaw(server.url, toolCall("list_examples"), bearer(server.tokens.bob ?? ""))).status).toBe(200);
    const closing = clients[0];
    await (closing?.transport as { terminateSession?: () => Promise<void> } | undefined)?.terminateSession?.();
    expect(server.running.sessions.size).toBe(2);
    expect((await postRaw(server.url, INITIALIZE, bearer(server.tokens.bob ?? ""))).status).toBe(200);
  });

  it("lets a principal at the cap back in by replacing its own least recently active session (a restarted client)", async () => {
    const server = await serverWith({ BPFTRACE_MCP_HTTP_MAX_SESSIONS: "2" });
    const first = await postRaw(server.url, INITIALIZE, bearer(server.tokens.alice ?? ""));
    const firstId = first.headers.get("mcp-session-id") ?? "";
    await first.text();
    await server.connect(server.tokens.alice ?? "");
    const again = await postRaw(server.url, INITIALIZE, bearer(server.tokens.alice ?? ""));
    expect(again.status).toBe(200);
    await again.text();
    expect(server.running.sessions.size).toBe(2);
    const stale = await postRaw(server.url, toolCall("list_examples"), { ...bearer(server.tokens.alice ?? ""), "mcp-session-id": firstId, "mcp-protocol-version": "2025-11-25" });
    expect(stale.status).toBe(404);
    expect((await postRaw(server.url, INITIALIZE, bearer(server.tokens.bob ?? ""))).status).toBe(503);
  });

  it("keeps an execution after its session ends: the same principal reads it from a new session", async () => {
    const server = await serverWith();
    const first = await connectHttp(server.url, server.tokens.alice ?? "");
    const started = await callTool(first, "exec_program", { program: "BEGIN { } // fake: tick-ms=50", timeout: 30 });
    const executionId = structured<{ execution_id: string }>(started).execution_id;
    await (first.transport as unknown as { terminateSession: () => Promise<void> }).terminateSession();
    await first.close();
    expect(server.running.sessions.size).toBe(0);
    const second = await server.connect(server.tokens.alice ?? "");
    const listed = structured<{ executions: { execution_id: string; status: string }[] }>(await callTool(second, "list_executions"));
    expect(listed.executions.map((run) => run.execution_id)).toEqual([executionId]);
    const result = structured<{ status: string; lines: unknown[] }>(await callTool(second, "get_result", { execution_id: executionId, wait_seconds: 1 }));
    expect(result.status).toBe("running");
    expect(result.lines.length).toBeGreaterThan(0);
    await callTool(second, "stop_execution", { execution_id: executionId });
  });
});

describe("behind a reverse proxy", () => {
  it("records the client address the trusted proxy reports (BPFTRACE_MCP_HTTP_TRUST_PROXY=loopback)", async () => {
    const server = await serverWith({ BPFTRACE_MCP_HTTP_TRUST_PROXY: "loopback" });
    const alice = await server.connect(server.tokens.alice ?? "", { headers: { "X-Forwarded-For": "203.0.113.9" } });
    await callTool(alice, "exec_program", { program: "BEGIN { exit(); }", timeout: 5 });
    expect(server.audit.find((record) => record.event === "start")).toMatchObject({ principal: "alice", remote: "203.0.113.9" });
  });
});

describe("principals over HTTP", () => {
  it("keeps Alice's execution from Bob: not listed, not readable, not stoppable, the same answer as an unknown id", async () => {
    const server = await serverWith();
    const alice = await server.connect(server.tokens.alice ?? "");
    const bob = await server.connect(server.tokens.bob ?? "");
    const started = await callTool(alice, "exec_program", { program: "BEGIN { } // fake: tick-ms=100", timeout: 30 });
    const executionId = structured<{ execution_id: string }>(started).execution_id;
    for (const tool of ["get_result", "stop_execution"]) {
      const foreign = await callTool(bob, tool, { execution_id: executionId });
      const unknown = await callTool(bob, tool, { execution_id: "ex-000000000000" });
      expect(foreign.isError).toBe(true);
      expect(textOf(foreign).replace(executionId, "ID")).toBe(textOf(unknown).replace("ex-000000000000", "ID"));
    }
    expect(structured<{ executions: unknown[] }>(await callTool(bob, "list_executions")).executions).toEqual([]);
    expect(structured<{ status: string }>(await callTool(alice, "get_result", { execution_id: executionId })).status).toBe("running");
    // The admin token sees and stops it.
    const ops = await server.connect(server.tokens.ops ?? "");
    expect((await callTool(ops, "stop_execution", { execution_id: executionId })).isError).toBeFalsy();
  });

  it("records the principal and the remote address in the audit log (not a forged X-Forwarded-For), and never a token in any log line", async () => {
    const lines: string[] = [];
    const server = await serverWith({}, lines);
    const alice = await server.connect(server.tokens.alice ?? "", { headers: { "X-Forwarded-For": "203.0.113.9" } });
    await callTool(alice, "exec_program", { program: "BEGIN { exit(); }", timeout: 5 });
    await postRaw(server.url, INITIALIZE, bearer("bmcp_wrong-token-value"));
    const start = server.audit.find((record) => record.event === "start") as Record<string, unknown> | undefined;
    expect(start).toMatchObject({ principal: "alice", remote: "127.0.0.1" });
    const everything = [...lines, JSON.stringify(server.audit)].join("\n");
    expect(lines.length).toBeGreaterThan(0);
    for (const token of [...Object.values(server.tokens), "bmcp_wrong-token-value"]) expect(everything).not.toContain(token);
  });
});
