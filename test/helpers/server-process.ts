import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const SERVER_ENTRY = fileURLToPath(new URL("../../dist/index.js", import.meta.url));
export const FAKE_BIN = fileURLToPath(new URL("../fixtures/bin/", import.meta.url));

export interface RunningServer {
  client: Client;
  transport: StdioClientTransport;
  /** The server's pid. */
  pid: number;
  /** Everything the server wrote on stderr (its JSON logs). */
  stderr: () => string;
  /** Calls a tool and returns the raw result (tool errors included, never thrown). */
  call: (name: string, args?: Record<string, unknown>) => Promise<CallToolResult>;
  close: () => Promise<void>;
}

/** Spawns the built server over stdio, as an MCP client would, and connects the SDK client to it. */
export async function startServer(
  options: { env?: Record<string, string>; args?: string[]; cwd?: string; /** Runs the server through this command, e.g. setpriv. */ launcher?: string[] } = {},
): Promise<RunningServer> {
  if (!existsSync(SERVER_ENTRY)) throw new Error(`${SERVER_ENTRY} is missing: run \`npm run build\` first (npm test does)`);
  // Each server stores its executions in a directory of its own (removed at close) unless the test names one;
  // one run as another user (launcher) keeps the default under that user's HOME.
  const ownStateDir = options.env?.BPFTRACE_MCP_STATE_DIR === undefined && !options.launcher ? mkdtempSync(join(tmpdir(), "bpftrace-mcp-state-")) : null;
  const [launcher, ...launcherArgs] = options.launcher ?? [];
  const transport = new StdioClientTransport({
    command: launcher ?? process.execPath,
    args: [...(launcher ? [...launcherArgs, process.execPath] : []), SERVER_ENTRY, ...(options.args ?? [])],
    // The transport passes only a few variables unless env is given: pass what the server needs.
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/root",
      LOG_LEVEL: "info",
      BPFTRACE_MCP_AUDIT_LOG: "off",
      ...(ownStateDir ? { BPFTRACE_MCP_STATE_DIR: ownStateDir } : {}),
      ...bpftracePathEnv(),
      ...options.env,
    },
    cwd: options.cwd ?? "/",
    stderr: "pipe",
  });
  let stderrText = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderrText += chunk.toString("utf8");
  });
  const client = new Client({ name: "bpftrace-mcp-test", version: "1.0.0" });
  await client.connect(transport);
  const pid = transport.pid;
  if (pid === null) throw new Error("server did not start");
  return {
    client,
    transport,
    pid,
    stderr: () => stderrText,
    call: async (name, args = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    close: async () => {
      await client.close();
      if (ownStateDir) rmSync(ownStateDir, { recursive: true, force: true });
    },
  };
}

/**
 * BPFTRACE_PATH of the test run, handed on to the server (a test's own `env` still wins), so
 * `BPFTRACE_PATH=... vitest run --project real` tests the server on that bpftrace.
 */
export function bpftracePathEnv(): Record<string, string> {
  return process.env.BPFTRACE_PATH ? { BPFTRACE_PATH: process.env.BPFTRACE_PATH } : {};
}

/** The text of a tool result's first content block. */
export function textOf(result: CallToolResult): string {
  const first = result.content[0];
  return first && first.type === "text" ? first.text : "";
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return check();
}

/** True while a process with this pid exists (and is not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}
