import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startAuthorizationServer } from "../helpers/authorization-server.js";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { heapProbeEnv, sampleLiveHeap } from "../helpers/heap-sampler.js";
import { addToken, startHttpProcess, type HttpProcess } from "../helpers/http-process.js";
import { callTool, connectHttp, INITIALIZE, postRaw } from "../helpers/http-server.js";
import { isAlive, SERVER_ENTRY, waitFor } from "../helpers/server-process.js";

let fakeBpftrace: string;
let scratch: string;
const running: HttpProcess[] = [];

beforeAll(() => {
  fakeBpftrace = installFakeBpftrace();
  scratch = mkdtempSync(join(tmpdir(), "bpfmcp-http-e2e-"));
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function serve(options: Parameters<typeof startHttpProcess>[0] = {}): Promise<HttpProcess> {
  const server = await startHttpProcess({ ...options, env: { BPFTRACE_PATH: fakeBpftrace, ...options.env } });
  running.push(server);
  return server;
}

function cli(args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [SERVER_ENTRY, ...args], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: scratch, ...env }, encoding: "utf8", timeout: 20_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe("bpftrace-mcp-server token", () => {
  it("add prints a new token once and stores only its sha256 in a 0600 file; list names it; revoke removes it", () => {
    const tokensFile = join(scratch, "cli", "tokens");
    const env = { BPFTRACE_MCP_TOKENS_FILE: tokensFile };
    const added = cli(["token", "add", "laptop", "--scopes", "bpftrace:read,bpftrace:trace"], env);
    expect(added.status, added.stderr).toBe(0);
    const token = added.stdout.trim();
    expect(token).toMatch(/^bmcp_[A-Za-z0-9_-]{43}$/);
    expect(statSync(tokensFile).mode & 0o777).toBe(0o600);
    const stored = readFileSync(tokensFile, "utf8");
    expect(stored).not.toContain(token);
    expect(stored).toMatch(/^laptop bpftrace:read,bpftrace:trace [0-9a-f]{64}$/m);
    expect(cli(["token", "add", "laptop", "--scopes", "trace"], env).status).toBe(2);
    expect(cli(["token", "add", "local", "--scopes", "trace"], env).stderr).toContain("reserved");
    expect(cli(["token", "add", "x", "--scopes", "bpftrace:root"], env).status).toBe(2);
    const listed = cli(["token", "list"], env);
    expect(listed.stdout).toContain("laptop\tbpftrace:read,bpftrace:trace");
    expect(listed.stdout).not.toContain(token);
    expect(cli(["token", "revoke", "laptop"], env).status).toBe(0);
    expect(readFileSync(tokensFile, "utf8")).not.toContain("laptop");
    expect(cli(["token", "revoke", "laptop"], env).status).toBe(2);
  });
});

describe("serve --http", () => {
  it("refuses to start without a token or an OAuth issuer, saying how to add one", () => {
    const run = cli(["serve", "--http", "127.0.0.1:0"], { BPFTRACE_MCP_TOKENS_FILE: join(scratch, "none", "tokens"), BPFTRACE_PATH: fakeBpftrace });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("no way to authenticate");
    expect(run.stderr).toContain("token add");
  });

  it("serves HTTP when BPFTRACE_MCP_HTTP is set, without --http, and stdio stays the default otherwise", async () => {
    const tokensFile = join(scratch, "env-tokens");
    addToken(tokensFile, "a", "bpftrace:read");
    const child = spawn(process.execPath, [SERVER_ENTRY], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: scratch, BPFTRACE_PATH: fakeBpftrace, BPFTRACE_MCP_AUDIT_LOG: "off", BPFTRACE_MCP_TOKENS_FILE: tokensFile, BPFTRACE_MCP_HTTP: "127.0.0.1:0" }, stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString("utf8")));
    try {
      expect(await waitFor(() => log.includes("serving MCP over HTTP"), 10_000), log).toBe(true);
    } finally {
      child.kill("SIGTERM");
    }
    const stdio = spawnSync(process.execPath, [SERVER_ENTRY], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: scratch, BPFTRACE_PATH: fakeBpftrace, BPFTRACE_MCP_AUDIT_LOG: "off" }, input: "", encoding: "utf8", timeout: 10_000 });
    expect(stdio.stderr).toContain("serving MCP on stdio");
  });

  it("refuses to start on a tokens file readable by others", () => {
    const tokensFile = join(scratch, "open-tokens");
    addToken(tokensFile, "a", "bpftrace:read");
    spawnSync("chmod", ["644", tokensFile]);
    const run = cli(["serve", "--http", "127.0.0.1:0"], { BPFTRACE_MCP_TOKENS_FILE: tokensFile, BPFTRACE_PATH: fakeBpftrace });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("chmod 600");
  });

  it("serves an SDK client over HTTP and, on SIGTERM, stops accepting, ends its traces and exits 0 within 3 s", async () => {
    const server = await serve();
    const pidFile = join(scratch, "trace.pid");
    const client = await connectHttp(server.url, server.tokens.alice ?? "");
    const started = await callTool(client, "exec_program", { program: `BEGIN { } // fake: tick-ms=100 // fake: pidfile=${pidFile}`, timeout: 60 });
    expect(started.isError, JSON.stringify(started)).toBeFalsy();
    await waitFor(() => existsSync(pidFile), 5_000);
    const tracePid = Number(readFileSync(pidFile, "utf8"));
    expect(isAlive(tracePid)).toBe(true);
    const signalledAt = Date.now();
    server.child.kill("SIGTERM");
    expect(await server.exited(3_000)).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(3_000);
    expect(isAlive(tracePid)).toBe(false);
    await expect(postRaw(server.url, INITIALIZE)).rejects.toThrow();
    expect(server.stderr()).toContain("shutting down");
    await client.close().catch(() => undefined);
  });

  it("serves with an OAuth issuer alone (no static token): accepts its JWT for this server's URL, refuses one for another", async () => {
    let resource = "";
    const issuer = await startAuthorizationServer({ resource: () => resource, redirectUri: "http://127.0.0.1:1/cb" });
    try {
      const server = await serve({ tokens: {}, env: { BPFTRACE_MCP_OAUTH_ISSUER: issuer.issuer } });
      resource = server.url;
      const good = await issuer.sign({ scope: "bpftrace:read" });
      const elsewhere = await issuer.sign({ scope: "bpftrace:read" }, { audience: "https://elsewhere.example/mcp" });
      expect((await postRaw(server.url, INITIALIZE, { authorization: `Bearer ${good}` })).status).toBe(200);
      const refused = await postRaw(server.url, INITIALIZE, { authorization: `Bearer ${elsewhere}` });
      expect(refused.status).toBe(401);
      expect(refused.headers.get("www-authenticate")).toContain(`resource_metadata="${new URL(server.url).origin}/.well-known/oauth-protected-resource/mcp"`);
      expect(server.stderr()).not.toContain(good);
    } finally {
      await issuer.close();
    }
  });

  it("warns on stderr when bound to a non-loopback address without TLS or a proxy setting", async () => {
    const server = await serve({ listen: "0.0.0.0:0" });
    expect(server.stderr()).toContain("without TLS");
    const quiet = await serve({ listen: "0.0.0.0:0", env: { BPFTRACE_MCP_HTTP_TRUST_PROXY: "loopback", BPFTRACE_MCP_PUBLIC_URL: "https://mcp.example/mcp" } });
    expect(quiet.stderr()).not.toContain("without TLS");
  });

  it("serves HTTPS with --tls-cert and --tls-key", async () => {
    const key = join(scratch, "key.pem");
    const cert = join(scratch, "cert.pem");
    const made = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], { encoding: "utf8" });
    expect(made.status, made.stderr).toBe(0);
    const server = await serve({ args: ["--tls-cert", cert, "--tls-key", key] });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const status = await new Promise<number>((resolve, reject) => {
      const outgoing = httpsRequest(server.url, { method: "POST", ca: readFileSync(cert), headers: { authorization: `Bearer ${server.tokens.alice ?? ""}`, "content-type": "application/json", accept: "application/json, text/event-stream" } }, (incoming) => {
        incoming.resume();
        resolve(incoming.statusCode ?? 0);
      });
      outgoing.on("error", reject);
      outgoing.end(INITIALIZE);
    });
    expect(status).toBe(200);
  });

  it("keeps the live heap flat over 1,000 sessions opened and closed", async () => {
    const heapFile = join(scratch, "heap.json");
    const server = await serve({ env: { ...heapProbeEnv(heapFile), BPFTRACE_MCP_HTTP_RATE_LIMIT: "100000" } });
    const headers = { authorization: `Bearer ${server.tokens.alice ?? ""}` };
    const cycle = async (): Promise<void> => {
      const opened = await postRaw(server.url, INITIALIZE, headers);
      await opened.text();
      const sessionId = opened.headers.get("mcp-session-id") ?? "";
      const session = { ...headers, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" };
      await (await postRaw(server.url, JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }), session)).text();
      await (await postRaw(server.url, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }), session)).text();
      const closed = await fetch(server.url, { method: "DELETE", headers: session });
      expect(closed.status).toBe(200);
    };
    const rounds = async (count: number): Promise<void> => {
      for (let index = 0; index < count; index += 10) await Promise.all(Array.from({ length: 10 }, cycle));
    };
    await rounds(200);
    const warm = await sampleLiveHeap(server.pid, heapFile);
    await rounds(800);
    const after = await sampleLiveHeap(server.pid, heapFile);
    const growthKb = Math.round((after.heapUsed - warm.heapUsed) / 1024);
    // Each open session holds an McpServer (~100 KB); 800 leaked ones would be tens of MB. V8 keeps
    // some garbage past forced collections and lets it go later: on Node 22 the live heap read 24.3,
    // 25.2, 25.7, 26.2, 26.6, then 24.6 MB every 400 sessions (0.2-2.3 MB above the warm reading on
    // Node 20-24). 4 MB is 5 KB a session: a twentieth of one leaked session.
    expect(growthKb, `live heap ${Math.round(warm.heapUsed / 1024)} KB after 200 sessions, ${Math.round(after.heapUsed / 1024)} KB after 1,000`).toBeLessThan(4096);
    // A few handles come and go (keep-alive sockets, the store's flush timer); 800 leaked sessions would be hundreds.
    expect(after.activeHandles).toBeLessThanOrEqual(warm.activeHandles + 5);
  }, 120_000);
});

describe("bpftrace-mcp-server connect (stdio ⇄ Streamable HTTP)", () => {
  it("bridges a stdio client to the remote server with the token from a file, never in its argv or environment", async () => {
    const server = await serve();
    const tokenFile = join(scratch, "bridge.token");
    writeFileSync(tokenFile, `${server.tokens.alice ?? ""}\n`, { mode: 0o600 });
    const transport = new StdioClientTransport({ command: process.execPath, args: [SERVER_ENTRY, "connect", server.url, "--token-file", tokenFile], env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: scratch }, stderr: "pipe" });
    let bridgeLog = "";
    transport.stderr?.on("data", (chunk: Buffer) => (bridgeLog += chunk.toString("utf8")));
    const client = new Client({ name: "stdio-only-client", version: "1" });
    await client.connect(transport);
    try {
      const tools = await client.listTools();
      expect(tools.tools.map((tool) => tool.name)).toContain("exec_program");
      const started = (await client.callTool({ name: "exec_program", arguments: { program: "BEGIN { exit(); }", timeout: 5 } })) as CallToolResult;
      expect(started.isError, JSON.stringify(started)).toBeFalsy();
      const pid = transport.pid ?? 0;
      const token = server.tokens.alice ?? "";
      expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain(token);
      expect(readFileSync(`/proc/${pid}/environ`, "utf8")).not.toContain(token);
    } finally {
      await client.close();
    }
    expect(bridgeLog).not.toContain(server.tokens.alice ?? "");
    expect(server.stderr()).not.toContain(server.tokens.alice ?? "");
    // The bridge closed its remote session (DELETE) when its client went away.
    await waitFor(() => server.stderr().includes('"reason":"closed"') || server.stderr().includes("HTTP session closed"), 3_000);
  });

  it("answers the client's request with the server's refusal when the token is not accepted", async () => {
    const server = await serve();
    const tokenFile = join(scratch, "wrong.token");
    writeFileSync(tokenFile, "bmcp_wrong\n", { mode: 0o600 });
    const transport = new StdioClientTransport({ command: process.execPath, args: [SERVER_ENTRY, "connect", server.url, "--token-file", tokenFile], env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: scratch }, stderr: "pipe" });
    const client = new Client({ name: "stdio-only-client", version: "1" });
    await expect(client.connect(transport)).rejects.toThrow(/invalid_token/);
    await client.close().catch(() => undefined);
  });

  it("refuses to start without --token-file, or with a token in the URL", () => {
    expect(cli(["connect", "http://127.0.0.1:9/mcp"], {}).stderr).toContain("--token-file");
    const tokenFile = join(scratch, "any.token");
    writeFileSync(tokenFile, "x\n", { mode: 0o600 });
    expect(cli(["connect", "http://user:secret@127.0.0.1:9/mcp", "--token-file", tokenFile], {}).stderr).toContain("not in the URL");
  });
});
