// The built server serving HTTP in its own process (`serve --http 127.0.0.1:0`), as an operator
// runs it; its URL is read from its "serving MCP over HTTP" log line.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SERVER_ENTRY, bpftracePathEnv, waitFor } from "./server-process.js";

export interface HttpProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  stderr: () => string;
  /** The token made for each name asked for. */
  tokens: Record<string, string>;
  tokensFile: string;
  /** Waits for the process to exit (after a signal); returns its exit code, or null when it was still running after `timeoutMs`. */
  exited: (timeoutMs: number) => Promise<number | null>;
  close: () => Promise<void>;
}

/** Runs `bpftrace-mcp-server token add NAME --scopes SCOPES` against a tokens file; returns the token printed. */
export function addToken(tokensFile: string, name: string, scopes: string): string {
  const run = spawnSync(process.execPath, [SERVER_ENTRY, "token", "add", name, "--scopes", scopes], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", BPFTRACE_MCP_TOKENS_FILE: tokensFile }, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`token add failed: ${run.stderr}`);
  return run.stdout.trim();
}

export async function startHttpProcess(options: { tokens?: Record<string, string>; env?: Record<string, string>; args?: string[]; listen?: string } = {}): Promise<HttpProcess> {
  const directory = mkdtempSync(join(tmpdir(), "bpfmcp-httpproc-"));
  const tokensFile = join(directory, "tokens");
  const tokens: Record<string, string> = {};
  for (const [name, scopes] of Object.entries(options.tokens ?? { alice: "bpftrace:trace" })) tokens[name] = addToken(tokensFile, name, scopes);
  const child = spawn(process.execPath, [SERVER_ENTRY, "serve", "--http", options.listen ?? "127.0.0.1:0", ...(options.args ?? [])], {
    // A state directory of its own: stored runs of earlier tests (same principal names) stay out of its lists.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", LOG_LEVEL: "info", BPFTRACE_MCP_AUDIT_LOG: "off", BPFTRACE_MCP_TOKENS_FILE: tokensFile, BPFTRACE_MCP_STATE_DIR: join(directory, "state"), ...bpftracePathEnv(), ...options.env },
    cwd: "/",
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  let exitCode: number | null | undefined;
  child.once("exit", (code) => (exitCode = code ?? -1));
  const urlOf = (): string | null => /"url":"(https?:\/\/[^"]+\/mcp)"/.exec(stderr)?.[1] ?? null;
  await waitFor(() => urlOf() !== null || exitCode !== undefined, 15_000);
  const url = urlOf();
  if (!url || child.pid === undefined) {
    child.kill("SIGKILL");
    rmSync(directory, { recursive: true, force: true });
    throw new Error(`serve --http did not start: ${stderr.slice(-1000)}`);
  }
  const exited = async (timeoutMs: number): Promise<number | null> => {
    await waitFor(() => exitCode !== undefined, timeoutMs);
    return exitCode === undefined ? null : exitCode;
  };
  return {
    child,
    pid: child.pid,
    url,
    stderr: () => stderr,
    tokens,
    tokensFile,
    exited,
    close: async () => {
      if (exitCode === undefined) {
        child.kill("SIGTERM");
        if ((await exited(5_000)) === null) child.kill("SIGKILL");
      }
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
