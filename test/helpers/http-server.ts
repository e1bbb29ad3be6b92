// An HTTP server on one engine, in this process, with static tokens made for the test; and an SDK
// client over Streamable HTTP to reach it as a remote client does.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditRecord } from "../../src/audit/audit-log.js";
import type { JwtVerifier } from "../../src/auth/jwt-verifier.js";
import { hashToken, newToken, StaticTokens, writeTokenFile, type TokenEntry } from "../../src/auth/token-file.js";
import { loadConfig } from "../../src/config.js";
import type { Scope } from "../../src/executions/principal.js";
import { createLogger } from "../../src/logger.js";
import { createEngine, type Engine } from "../../src/server.js";
import { startHttp, type RunningHttp } from "../../src/transports/http.js";

export interface TestHttpServer {
  url: string;
  running: RunningHttp;
  engine: Engine;
  /** The token made for each name asked for. */
  tokens: Record<string, string>;
  tokensFile: string;
  audit: AuditRecord[];
  /** An SDK client connected as the holder of `tokenName` (or a raw token). */
  connect: (token: string, options?: { sessionId?: string; headers?: Record<string, string> }) => Promise<Client>;
  close: () => Promise<void>;
}

export interface TestHttpOptions {
  /** Token name → its scopes. */
  tokens: Record<string, Scope[]>;
  env?: Record<string, string>;
  bpftracePath: string;
  jwt?: (publicUrl: string) => JwtVerifier;
  /** Receives every log line (debug level) when given; else the server logs nothing. */
  logSink?: string[];
  hostOptions?: { geteuid: () => number };
}

export async function startTestHttp(options: TestHttpOptions): Promise<TestHttpServer> {
  const directory = mkdtempSync(join(tmpdir(), "bpfmcp-http-"));
  const tokensFile = join(directory, "tokens");
  const tokens: Record<string, string> = {};
  const entries: TokenEntry[] = Object.entries(options.tokens).map(([name, scopes]) => {
    const token = newToken();
    tokens[name] = token;
    return { name, scopes, sha256: hashToken(token) };
  });
  writeTokenFile(tokensFile, entries);
  const config = loadConfig({ BPFTRACE_PATH: options.bpftracePath, BPFTRACE_MCP_AUDIT_LOG: "off", BPFTRACE_MCP_KILL_GRACE_MS: "400", BPFTRACE_MCP_TOKENS_FILE: tokensFile, ...options.env });
  const sink = options.logSink;
  const logger = sink ? createLogger("debug", { write: (line: string) => void sink.push(line) }) : createLogger("silent");
  const audit: AuditRecord[] = [];
  const engine = createEngine({ config, logger, audit: { write: (record) => (audit.push(record), null) }, ...(options.hostOptions ? { hostOptions: options.hostOptions } : {}) });
  const staticTokens = new StaticTokens(tokensFile);
  staticTokens.load();
  const running = await startHttp({ engine, config, logger, tokens: staticTokens, jwt: options.jwt ?? null, listen: { host: "127.0.0.1", port: 0 }, tls: null });
  const clients: Client[] = [];
  return {
    url: running.url,
    running,
    engine,
    tokens,
    tokensFile,
    audit,
    connect: async (token, connectOptions = {}) => {
      const client = await connectHttp(running.url, token, connectOptions);
      clients.push(client);
      return client;
    },
    close: async () => {
      await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
      await engine.cleanup(500);
      await running.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** An SDK client over Streamable HTTP sending `Authorization: Bearer token`. */
export async function connectHttp(url: string, token: string, options: { sessionId?: string; headers?: Record<string, string> } = {}): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { ...options.headers, Authorization: `Bearer ${token}` } }, ...(options.sessionId ? { sessionId: options.sessionId } : {}) });
  const client = new Client({ name: "bpftrace-mcp-http-test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

export async function callTool(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** A raw POST to the MCP endpoint (for the answers no SDK client would provoke). */
export async function postRaw(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "POST", body, headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers } });
}

export const INITIALIZE = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });

export const toolCall = (name: string, args: Record<string, unknown> = {}, id = 2): string => JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } });
