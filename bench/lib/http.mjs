// Figure 7, Streamable HTTP: get_result and tools/list latency over HTTP beside the same server over
// stdio, and requests per second with 32 concurrent clients (sessions) beside the reference server
// (@modelcontextprotocol/server-everything) in its own Streamable HTTP mode. Measured in one run,
// servers alternating.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import process from "node:process";
import { z } from "zod";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { BASE_ENV, SERVER_ENTRY, startServer, structured, waitForEnd } from "./mcp-server.mjs";
import { disown, killSurvivors, own } from "./processes.mjs";
import { alternate, latencyPercentiles, pairedRatios, summarize } from "./stats.mjs";

const EVERYTHING_ENTRY = fileURLToPath(new URL("../../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url));
const PASSTHROUGH = z.object({}).passthrough();
export const CONCURRENT_CLIENTS = 32;
const PROGRAM = 'BEGIN { printf("bench line\\n"); exit(); }';

/** Our server serving HTTP on a free loopback port, with one token; resolves once it listens. */
async function startOurHttp() {
  const directory = mkdtempSync(join(tmpdir(), "bpftrace-mcp-bench-http-"));
  const tokensFile = join(directory, "tokens");
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...BASE_ENV, BPFTRACE_MCP_TOKENS_FILE: tokensFile };
  const added = spawnSync(process.execPath, [SERVER_ENTRY, "token", "add", "bench", "--scopes", "bpftrace:trace"], { env, encoding: "utf8" });
  if (added.status !== 0) throw new Error(`token add failed: ${added.stderr}`);
  // The rate limit is a policy, not a cost: raised so the bench measures the server, not the limiter.
  const child = spawn(process.execPath, [SERVER_ENTRY, "serve", "--http", "127.0.0.1:0"], { env: { ...env, BPFTRACE_MCP_HTTP_RATE_LIMIT: "100000", BPFTRACE_MCP_HTTP_MAX_SESSIONS: "1000" }, stdio: ["ignore", "ignore", "pipe"], cwd: "/" });
  own(child.pid);
  const url = await new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`serve --http did not start: ${log.slice(-500)}`)), 15_000);
    child.stderr.on("data", (chunk) => {
      log += chunk.toString("utf8");
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+\/mcp)"/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
  return { url, token: added.stdout.trim(), pid: child.pid, close: () => stop(child.pid, directory) };
}

/** The reference server in its Streamable HTTP mode on a free port (it takes PORT). */
async function startReferenceHttp() {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, [EVERYTHING_ENTRY, "streamableHttp"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"], cwd: "/" });
  own(child.pid);
  // It logs every request on stdout: drained, as any deployment's log collector would.
  child.stdout.resume();
  await new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`server-everything did not start: ${log.slice(-500)}`)), 15_000);
    child.stderr.on("data", (chunk) => {
      log += chunk.toString("utf8");
      if (log.includes("listening on port")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { url: `http://127.0.0.1:${port}/mcp`, token: null, pid: child.pid, close: () => stop(child.pid, null) };
}

async function stop(pid, directory) {
  await killSurvivors([pid], 0);
  disown(pid);
  if (directory) rmSync(directory, { recursive: true, force: true });
}

async function connect(url, token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const client = new Client({ name: "bpftrace-mcp-bench-http", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

/** Times `count` sequential requests of each kind, interleaved; milliseconds per request. */
async function latencies(request, count) {
  const getResult = [];
  const toolsList = [];
  for (let index = 0; index < count; index += 1) {
    let started = performance.now();
    await request("get_result");
    getResult.push(performance.now() - started);
    started = performance.now();
    await request("tools/list");
    toolsList.push(performance.now() - started);
  }
  return { getResult: latencyPercentiles(getResult), toolsList: latencyPercentiles(toolsList) };
}

/** Requests per second that `clients` sessions achieve together, each sending `call` back to back for `seconds`. */
async function throughput(url, token, call, seconds) {
  const clients = await Promise.all(Array.from({ length: CONCURRENT_CLIENTS }, () => connect(url, token)));
  // Warm-up: every session's first requests compile the server's paths.
  await Promise.all(clients.map((client) => call(client)));
  let completed = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < deadline) {
        await call(client);
        completed += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  return completed / elapsed;
}

const raw = (client, method, params = {}) => client.request({ method, params }, PASSTHROUGH, { timeout: 60_000 });

/** Figure 7. `runs` rounds each of latency (stdio vs HTTP) and throughput (ours vs reference). */
export async function measureHttp({ runs, latencyRequests, seconds, log }) {
  log(`HTTP: latency over stdio and HTTP (${latencyRequests} requests each), then ${CONCURRENT_CLIENTS} concurrent sessions for ${seconds} s against ours and server-everything`);
  const stdio = await startServer();
  const http = await startOurHttp();
  const httpClient = await connect(http.url, http.token);
  const stdioRun = structured(await stdio.call("exec_program", { program: PROGRAM, timeout: 5 }));
  const httpRun = structured(await httpClient.callTool({ name: "exec_program", arguments: { program: PROGRAM, timeout: 5 } }));
  await waitForEnd(stdio, stdioRun.execution_id);
  // The HTTP run is as short; both are read finished, as a client reads a result.
  await sleep(1_000);
  const requesters = {
    stdio: (method) => (method === "tools/list" ? stdio.request("tools/list") : stdio.request("tools/call", { name: "get_result", arguments: { execution_id: stdioRun.execution_id } })),
    http: (method) => (method === "tools/list" ? raw(httpClient, "tools/list") : raw(httpClient, "tools/call", { name: "get_result", arguments: { execution_id: httpRun.execution_id } })),
  };
  // Warm both paths before timing.
  await latencies(requesters.stdio, 20);
  await latencies(requesters.http, 20);
  const latency = await alternate(
    runs,
    () => latencies(requesters.stdio, latencyRequests),
    () => latencies(requesters.http, latencyRequests),
  );
  await httpClient.close();
  await stdio.close();

  const reference = await startReferenceHttp();
  const calls = {
    oursPing: (client) => raw(client, "ping"),
    referencePing: (client) => raw(client, "ping"),
    oursTool: (client) => raw(client, "tools/call", { name: "get_result", arguments: { execution_id: httpRun.execution_id } }),
    referenceTool: (client) => raw(client, "tools/call", { name: "echo", arguments: { message: "bench" } }),
  };
  const ping = await alternate(
    runs,
    () => throughput(reference.url, null, calls.referencePing, seconds),
    () => throughput(http.url, http.token, calls.oursPing, seconds),
  );
  const tool = await alternate(
    runs,
    () => throughput(reference.url, null, calls.referenceTool, seconds),
    () => throughput(http.url, http.token, calls.oursTool, seconds),
  );
  await reference.close();
  await http.close();
  const pooled = (rounds, key, quantile) => summarize(rounds.map((round) => round[key][quantile]));
  return {
    clients: CONCURRENT_CLIENTS,
    latency: {
      stdio: { getResult: { p50: pooled(latency.baseline, "getResult", "p50"), p99: pooled(latency.baseline, "getResult", "p99") }, toolsList: { p50: pooled(latency.baseline, "toolsList", "p50"), p99: pooled(latency.baseline, "toolsList", "p99") } },
      http: { getResult: { p50: pooled(latency.subject, "getResult", "p50"), p99: pooled(latency.subject, "getResult", "p99") }, toolsList: { p50: pooled(latency.subject, "toolsList", "p50"), p99: pooled(latency.subject, "toolsList", "p99") } },
    },
    ping: { ours: summarize(ping.subject), reference: summarize(ping.baseline), ratio: summarize(pairedRatios(ping.subject, ping.baseline)) },
    tool: { ours: summarize(tool.subject), reference: summarize(tool.baseline), ratio: summarize(pairedRatios(tool.subject, tool.baseline)) },
  };
}
