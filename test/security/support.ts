// Shared by the security tests: a planted secret, leak checks, and small wrappers around tool calls.
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { expect } from "vitest";
import type { RunningServer } from "../helpers/server-process.js";

/** A file only root can read, whose content must never come back through the server. */
export interface PlantedSecret {
  directory: string;
  /** `<directory>/secret`, holding the token. */
  file: string;
  /** `<directory>/secret.h`, the same token, for include tricks that need a .h name. */
  header: string;
  token: string;
}

/** Writes a random token into a fresh 0700 directory as 0600 files. */
export function plantSecret(): PlantedSecret {
  const directory = mkdtempSync(join(tmpdir(), "bpfmcp-secret-"));
  chmodSync(directory, 0o700);
  const token = `tok${randomBytes(16).toString("hex")}`;
  const file = join(directory, "secret");
  const header = join(directory, "secret.h");
  // A bare identifier: if clang ever reads the file, its error message quotes the token.
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  writeFileSync(header, `${token}\n`, { mode: 0o600 });
  return { directory, file, header, token };
}

/** A path in the temp directory that does not exist yet (for "nothing was written" checks). */
export function absentPath(label: string): string {
  return join(tmpdir(), `bpfmcp-${label}-${randomBytes(6).toString("hex")}`);
}

/** A string no other test or process will contain, to plant in a program comment. */
export function newMarker(label: string): string {
  return `${label}-${process.pid}-${randomBytes(4).toString("hex")}`;
}

export type Structured = Record<string, unknown>;

export function structuredOf(result: CallToolResult): Structured {
  return (result.structuredContent ?? {}) as Structured;
}

/** Everything a result carries, as one string: text blocks, structured content, error flag. */
export function everythingIn(result: CallToolResult): string {
  return JSON.stringify(result);
}

/** Fails if `text` contains the token (or its hex part alone, in case a prefix got cut). */
export function expectNoSecret(text: string, secret: PlantedSecret, where: string): void {
  expect(text.includes(secret.token), `${where} leaked the secret token`).toBe(false);
  expect(text.includes(secret.token.slice(3)), `${where} leaked the secret token's hex`).toBe(false);
}

/** Calls a tool; a protocol-level rejection is returned as text so leak checks still see it. */
export async function callAnyway(server: RunningServer, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  try {
    return await server.call(name, args);
  } catch (error) {
    return { content: [{ type: "text", text: `THROWN: ${error instanceof Error ? error.message : String(error)}` }], isError: true };
  }
}

/** How many executions the server knows right now. */
export async function executionCount(server: RunningServer): Promise<number> {
  const listed = await server.call("list_executions");
  return (structuredOf(listed).executions as unknown[]).length;
}

interface OutputLine {
  stream: string;
  text: string;
}

/** Follows an execution with get_result until it ends; returns its final status and every line. */
export async function followToEnd(server: RunningServer, executionId: string, maxWaitMs = 40_000): Promise<{ status: string; lines: OutputLine[]; last: Structured }> {
  const deadline = Date.now() + maxWaitMs;
  const lines: OutputLine[] = [];
  let offset = 0;
  for (;;) {
    const result = await server.call("get_result", { execution_id: executionId, offset, wait_seconds: 5, limit: 10_000 });
    const last = structuredOf(result);
    lines.push(...((last.lines as OutputLine[] | undefined) ?? []));
    offset = last.next_offset as number;
    if (last.status !== "running" || Date.now() > deadline) return { status: String(last.status), lines, last };
  }
}

/** The output lines of an execution so far (waiting up to `waitSeconds` for new ones). */
export async function linesOf(server: RunningServer, executionId: string, waitSeconds = 0): Promise<string[]> {
  const result = await server.call("get_result", { execution_id: executionId, wait_seconds: waitSeconds, limit: 10_000 });
  return ((structuredOf(result).lines as OutputLine[] | undefined) ?? []).map((line) => line.text);
}
