import Database from "better-sqlite3";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { textOf, type RunningServer } from "./server-process.js";

export interface Page {
  status: string;
  stored: boolean;
  lines_total: number;
  lines_dropped: number;
  offset: number;
  next_offset: number;
  /** The page's lines as text; `stderr` lists the indexes (into `lines`) of bpftrace's own messages. */
  lines: string[];
  maps?: { name: string }[];
  warnings: string[];
}

/** structuredContent of a result that must not be an error. */
export function ok<T = Record<string, unknown>>(result: CallToolResult): T {
  if (result.isError) throw new Error(textOf(result));
  return result.structuredContent as T;
}

/** Starts a program and returns its id (the start must succeed). */
export async function start(server: RunningServer, program: string, timeout = 30): Promise<string> {
  return ok<{ execution_id: string }>(await server.call("exec_program", { program, timeout })).execution_id;
}

/** Polls until the run has ended; returns its last page of status. */
export async function waitForEnd(server: RunningServer, executionId: string, limitMs = 60_000): Promise<Page> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    const page = ok<Page>(await server.call("get_result", { execution_id: executionId, offset: 0, limit: 1, wait_seconds: 1 }));
    if (page.status !== "running") return page;
  }
  throw new Error(`${executionId} did not end within ${limitMs} ms`);
}

/** Every kept line of a run, page by page, as the tool hands them out. */
export async function allPages(server: RunningServer, executionId: string, pageSize = 1000): Promise<Page[]> {
  const pages: Page[] = [];
  let offset = 0;
  for (;;) {
    const page = ok<Page>(await server.call("get_result", { execution_id: executionId, offset, limit: pageSize }));
    pages.push(page);
    if (page.lines.length === 0 || page.next_offset >= page.lines_total) return pages;
    offset = page.next_offset;
  }
}

/** What a restart may change in a page: that it is read from disk. */
export function withoutStored(page: Page): Omit<Page, "stored"> {
  const { stored: _stored, ...rest } = page;
  return rest;
}

/** The database's own check, from a separate read-only connection: "ok" when nothing is corrupt. */
export function integrityOf(stateDir: string): string {
  const file = join(stateDir, "executions.db");
  if (!existsSync(file)) return "missing";
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.pragma("integrity_check") as { integrity_check: string }[]).map((row) => row.integrity_check).join("; ");
  } finally {
    db.close();
  }
}

/** The server's JSON log entries with this message. */
export function logEntries(server: RunningServer, message: string): Record<string, unknown>[] {
  return server
    .stderr()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.msg === message);
}
