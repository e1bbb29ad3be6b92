import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { bpftracePathEnv, SERVER_ENTRY, waitFor } from "./server-process.js";

/** One JSON-RPC message as the server wrote it on stdout. */
export interface JsonRpcMessage {
  jsonrpc: string;
  id?: string | number | null;
  method?: string;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
  params?: Record<string, unknown>;
}

/** The built server on raw pipes: bytes in, every stdout line checked, for tests of malformed input. */
export interface RawServer {
  child: ChildProcessWithoutNullStreams;
  pid: number;
  /** Writes bytes to the server's stdin exactly as given. */
  write: (bytes: string | Buffer) => void;
  /** Writes one message as a JSON line. */
  send: (message: unknown) => void;
  /** Every complete stdout line, parsed; a line that is not JSON-RPC 2.0 is kept in `strayLines`. */
  messages: () => JsonRpcMessage[];
  /** stdout lines that were not a JSON object with jsonrpc "2.0" (must stay empty). */
  strayLines: () => string[];
  /** Bytes after the last newline on stdout (must stay empty between messages). */
  partialStdout: () => Buffer;
  stderr: () => string;
  /** Waits for the response carrying `id`; rejects after `timeoutMs`. */
  responseTo: (id: string | number, timeoutMs?: number) => Promise<JsonRpcMessage>;
  /** Every response carrying `id` (duplicates included). */
  responsesTo: (id: string | number) => JsonRpcMessage[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Closes stdin and waits for the exit; SIGKILLs after `timeoutMs`. */
  stop: (timeoutMs?: number) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `node dist/index.js` with plain pipes (no SDK client in between). */
export function spawnRawServer(env: Record<string, string> = {}): RawServer {
  if (!existsSync(SERVER_ENTRY)) throw new Error(`${SERVER_ENTRY} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, [SERVER_ENTRY], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", LOG_LEVEL: "info", BPFTRACE_MCP_AUDIT_LOG: "off", ...bpftracePathEnv(), ...env },
    stdio: ["pipe", "pipe", "pipe"],
    cwd: "/",
  });
  if (child.pid === undefined) throw new Error("the server did not start");
  const parsed: JsonRpcMessage[] = [];
  const stray: string[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let stderrText = "";
  child.stdout.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (let newline = pending.indexOf(10); newline !== -1; newline = pending.indexOf(10)) {
      const line = pending.subarray(0, newline).toString("utf8");
      pending = pending.subarray(newline + 1);
      try {
        const message = JSON.parse(line) as JsonRpcMessage;
        if (message === null || typeof message !== "object" || Array.isArray(message) || message.jsonrpc !== "2.0") stray.push(line);
        else parsed.push(message);
      } catch {
        stray.push(line);
      }
    }
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderrText += chunk.toString("utf8");
  });
  // EPIPE after the server exits is part of some tests, not a failure of the harness.
  child.stdin.on("error", () => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  const responsesTo = (id: string | number): JsonRpcMessage[] => parsed.filter((message) => message.id === id && message.method === undefined);
  return {
    child,
    pid: child.pid,
    write: (bytes) => {
      child.stdin.write(bytes);
    },
    send: (message) => {
      child.stdin.write(`${JSON.stringify(message)}\n`);
    },
    messages: () => parsed,
    strayLines: () => stray,
    partialStdout: () => pending,
    stderr: () => stderrText,
    responsesTo,
    responseTo: async (id, timeoutMs = 10_000) => {
      if (!(await waitFor(() => responsesTo(id).length > 0, timeoutMs, 10))) {
        throw new Error(`no response to id ${JSON.stringify(id)} within ${timeoutMs} ms; stderr:\n${stderrText.slice(-2000)}`);
      }
      return responsesTo(id)[0] as JsonRpcMessage;
    },
    exited,
    stop: async (timeoutMs = 5_000) => {
      if (child.exitCode === null && child.signalCode === null) child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Sends `initialize` and `notifications/initialized`, as a client does, and waits for the answer. */
export async function initializeRaw(server: RawServer, id: string | number = "init"): Promise<JsonRpcMessage> {
  server.send({ jsonrpc: "2.0", id, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw-test", version: "1" } } });
  const response = await server.responseTo(id);
  server.send({ jsonrpc: "2.0", method: "notifications/initialized" });
  return response;
}

let rawCallCounter = 0;

/** Calls a tool over the raw pipes and returns its result (tool errors included). */
export async function callToolRaw(server: RawServer, name: string, args: Record<string, unknown>, timeoutMs = 30_000): Promise<{ isError?: boolean; content: { type: string; text?: string }[]; structuredContent?: Record<string, unknown> }> {
  const id = `call-${(rawCallCounter += 1)}`;
  server.send({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } });
  const response = await server.responseTo(id, timeoutMs);
  if (response.error) throw new Error(`${name} answered a JSON-RPC error: ${response.error.message}`);
  return response.result as { isError?: boolean; content: { type: string; text?: string }[]; structuredContent?: Record<string, unknown> };
}
