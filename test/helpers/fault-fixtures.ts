import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SERVER_ENTRY, type RunningServer } from "./server-process.js";

const FAKE_SCRIPT = fileURLToPath(new URL("../fixtures/bin/fake-bpftrace.mjs", import.meta.url));

/** The uid and gid of `nobody`, for running the server without privileges. */
export const NOBODY = 65_534;

/** A fake `bpftrace` in a world-readable directory, so a server running as another user can find it. */
export function installSharedFakeBpftrace(): string {
  const directory = mkdtempSync(join(tmpdir(), "fake-bpftrace-shared-"));
  chmodSync(directory, 0o755);
  const file = join(directory, "bpftrace");
  writeFileSync(file, `#!/bin/sh\nexec "${process.execPath}" "${FAKE_SCRIPT}" "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

/** A copy of `executable` with mode 0644: present, but nobody may execute it. */
export function nonExecutableCopyOf(executable: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "not-executable-")), "bpftrace");
  copyFileSync(executable, file);
  chmodSync(file, 0o644);
  return file;
}

/**
 * Starts the built server as `nobody` (setpriv, no supplementary groups), as a client would
 * start it for an unprivileged user: it has to go through sudo to run bpftrace.
 */
export async function startServerAsNobody(env: Record<string, string>): Promise<RunningServer> {
  const transport = new StdioClientTransport({
    command: "setpriv",
    args: [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", process.execPath, SERVER_ENTRY],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", LOG_LEVEL: "info", BPFTRACE_MCP_AUDIT_LOG: "off", ...env },
    cwd: "/",
    stderr: "pipe",
  });
  let stderrText = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderrText += chunk.toString("utf8");
  });
  const client = new Client({ name: "bpftrace-mcp-test-nobody", version: "1.0.0" });
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
    },
  };
}
