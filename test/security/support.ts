// Shared by the security tests: a planted secret, leak checks, and small wrappers around tool calls.
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { expect } from "vitest";
import { bpftraceProcessesWith, processesWith } from "../helpers/processes.js";
import { startServer, waitFor, type RunningServer } from "../helpers/server-process.js";
import { RAW_PAGE, pageLines, type OutputLine } from "../helpers/output-lines.js";

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


/** Follows an execution with get_result until it ends; returns its final status and every line. */
export async function followToEnd(server: RunningServer, executionId: string, maxWaitMs = 40_000): Promise<{ status: string; lines: OutputLine[]; last: Structured }> {
  const deadline = Date.now() + maxWaitMs;
  const lines: OutputLine[] = [];
  let offset = 0;
  for (;;) {
    const result = await server.call("get_result", { execution_id: executionId, offset, wait_seconds: 5, limit: 10_000, ...RAW_PAGE });
    const last = structuredOf(result);
    lines.push(...pageLines(last));
    offset = last.next_offset as number;
    if (last.status !== "running" || Date.now() > deadline) return { status: String(last.status), lines, last };
  }
}

/** The output lines of an execution so far (waiting up to `waitSeconds` for new ones). */
export async function linesOf(server: RunningServer, executionId: string, waitSeconds = 0): Promise<string[]> {
  const result = await server.call("get_result", { execution_id: executionId, wait_seconds: waitSeconds, limit: 10_000, ...RAW_PAGE });
  return pageLines(structuredOf(result)).map((line) => line.text);
}

/** The program's stdout lines, waiting (up to `waitSeconds`) past bpftrace's own stderr warnings for the first. */
export async function stdoutOf(server: RunningServer, executionId: string, waitSeconds: number): Promise<string[]> {
  const deadline = Date.now() + waitSeconds * 1000;
  let offset = 0;
  const lines: string[] = [];
  while (lines.length === 0 && Date.now() < deadline) {
    const page = structuredOf(await server.call("get_result", { execution_id: executionId, offset, wait_seconds: Math.max(1, Math.ceil((deadline - Date.now()) / 1000)), limit: 10_000, ...RAW_PAGE }));
    lines.push(...pageLines(page).filter((line) => line.stream === "stdout").map((line) => line.text));
    offset = page.next_offset as number;
    if (page.status !== "running") break;
  }
  return lines;
}

// ---- Added for gateway-attacks.test.ts and sudo-attacks.test.ts ----

/** The error code of an `isError` result: `structuredContent.code` when the server gives one, else the `CODE: ` text prefix. */
export function errorCodeOf(result: CallToolResult): string | null {
  const structured = structuredOf(result);
  if (typeof structured.code === "string") return structured.code;
  const first = result.content[0];
  const text = first && first.type === "text" ? first.text : "";
  return /^([A-Z][A-Z_]+): /.exec(text)?.[1] ?? null;
}

/** What a refused validate_program looks like today: a verdict, not an error (see gateway.test.ts). */
function isRefusedVerdict(result: CallToolResult): boolean {
  const structured = structuredOf(result);
  const policy = structured.policy as { allowed?: unknown } | undefined;
  return structured.valid === false && policy?.allowed === false;
}

/**
 * Requires a policy refusal: exec_program answers isError with POLICY_REFUSED; validate_program
 * either does the same or gives its refused verdict (valid: false, policy.allowed: false).
 */
export function expectPolicyRefused(result: CallToolResult, tool: "exec_program" | "validate_program", where: string): void {
  const summary = JSON.stringify(result).slice(0, 600);
  if (tool === "validate_program" && !result.isError) {
    expect(isRefusedVerdict(result), `${where}: validate_program did not refuse: ${summary}`).toBe(true);
    return;
  }
  expect(result.isError, `${where}: ${tool} was not refused: ${summary}`).toBe(true);
  expect(errorCodeOf(result), `${where}: ${tool} error code: ${summary}`).toBe("POLICY_REFUSED");
}

/** The text of every output line of an execution a call started (followed to its end, then stopped if still running); [] if nothing started. */
export async function outputOfStarted(server: RunningServer, started: CallToolResult, maxWaitMs = 15_000): Promise<string[]> {
  if (started.isError) return [];
  const executionId = structuredOf(started).execution_id;
  if (typeof executionId !== "string") return [];
  const { status, lines } = await followToEnd(server, executionId, maxWaitMs);
  const texts = lines.map((line) => line.text);
  if (status === "running") {
    await callAnyway(server, "stop_execution", { execution_id: executionId });
    texts.push(...(await linesOf(server, executionId)));
  }
  return texts;
}

/** Writes the token as the first line of `<directory>/secret.sh`, mode 0700: an executable only root can read. */
export function plantSecretScript(secret: PlantedSecret): string {
  const script = join(secret.directory, "secret.sh");
  writeFileSync(script, `${secret.token}\n#!/bin/sh\nexit 0\n`, { mode: 0o700 });
  chmodSync(script, 0o700);
  return script;
}

/**
 * bpftrace statements printing the bytes at `address` (an integer expression: a user-space
 * address) as `windows` overlapping str() windows 32 bytes apart, each only while `length` reaches
 * it: a marker up to 31 bytes long, anywhere in the first 32 * windows bytes, appears whole in one
 * line. Needed because str() stops at 63 bytes on older bpftrace. uptr() because bpftrace 0.23+
 * reads an integer as a kernel address ("Addrspace mismatch"; 0.27 then prints nothing).
 */
export function strWindows(label: string, address: string, length: string, windows = 14): string {
  const statements: string[] = [];
  for (let index = 0; index < windows; index += 1) {
    const offset = index * 32;
    statements.push(`if (${length} > ${offset}) { printf("${label}${index} %s\\n", str(uptr(${address} + ${offset}))); }`);
  }
  return statements.join(" ");
}

/** The variables a test server needs from this process's environment: the bpftrace under test. */
export function bpftraceUnderTestEnv(): Record<string, string> {
  return process.env.BPFTRACE_PATH ? { BPFTRACE_PATH: process.env.BPFTRACE_PATH } : {};
}

/** A process outside the server's tree that keeps writing and reading `control`: a spy that sees it is really tracing. */
export interface ControlProcess {
  pid: number;
  control: string;
  stop: () => void;
}

/**
 * Starts node looping every 100 ms: write(2) of the control string to /dev/null, read(2) of a file
 * holding it, and a write of it to its stdout pipe (through libuv's uv_try_write/uv_write).
 */
export function startControlProcess(label: string, owner: { uid: number; gid: number } | null = null): ControlProcess {
  const control = newMarker(`${label}-control`);
  const directory = mkdtempSync(join(tmpdir(), "bpfmcp-control-"));
  chmodSync(directory, 0o755);
  const file = join(directory, "control");
  writeFileSync(file, control, { mode: 0o644 });
  const script = [
    'const fs = require("node:fs");',
    'const sink = fs.openSync("/dev/null", "w");',
    "setInterval(() => {",
    "  fs.writeSync(sink, process.env.CONTROL);",
    "  fs.readFileSync(process.env.CONTROL_FILE);",
    '  process.stdout.write(process.env.CONTROL + "\\n");',
    "}, 100);",
  ].join("\n");
  const child = spawn(process.execPath, ["-e", script], {
    env: { CONTROL: control, CONTROL_FILE: file, PATH: process.env.PATH ?? "/usr/bin:/bin" },
    stdio: ["ignore", "pipe", "ignore"],
    cwd: "/",
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
  });
  child.stdout.resume();
  if (child.pid === undefined) throw new Error("the control process did not start");
  return {
    pid: child.pid,
    control,
    stop: () => {
      child.kill("SIGKILL");
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Sends SIGKILL to the server (no shutdown hook runs) and waits until it is gone. */
export async function killServerHard(server: RunningServer): Promise<void> {
  try {
    process.kill(server.pid, "SIGKILL");
  } catch {
    return;
  }
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && existsSync(`/proc/${server.pid}`) && !/^State:\s+Z/m.test(safeRead(`/proc/${server.pid}/status`))) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** What a spy trace printed while a trigger ran. */
export interface SpyReport {
  /** The spy's exec_program result (an isError result if it was refused). */
  started: CallToolResult;
  lines: string[];
  /** Whether the spy printed the control process's string: it really traced. */
  sawControl: boolean;
}

/**
 * Starts `spyProgram`, waits (at most 10 s) until it prints `control`, runs `trigger`, lets the spy
 * run 1.5 s more, stops it, and returns everything it printed.
 */
export async function spyAround(server: RunningServer, spyProgram: string, control: string, trigger: () => Promise<void>): Promise<SpyReport> {
  const started = await callAnyway(server, "exec_program", { program: spyProgram, timeout: 30 });
  const executionId = structuredOf(started).execution_id;
  if (started.isError || typeof executionId !== "string") return { started, lines: [], sawControl: false };
  const lines: string[] = [];
  let offset = 0;
  let skipped = 0;
  // Reads every page there is now (has_more), waiting up to waitSeconds for the first.
  const pull = async (waitSeconds: number): Promise<string> => {
    for (let pages = 0; ; pages += 1) {
      const result = await callAnyway(server, "get_result", { execution_id: executionId, offset, wait_seconds: pages === 0 ? waitSeconds : 0, limit: 10_000, ...RAW_PAGE });
      const page = structuredOf(result);
      lines.push(...pageLines(page).map((line) => line.text));
      if (typeof page.next_offset === "number") offset = page.next_offset;
      if (typeof page.skipped === "number") skipped += page.skipped;
      if (page.has_more !== true || pages > 100) return String(page.status);
    }
  };
  const controlDeadline = Date.now() + 10_000;
  let sawControl = false;
  while (!sawControl && Date.now() < controlDeadline) {
    const status = await pull(0.5);
    sawControl = lines.some((line) => line.includes(control));
    if (status !== "running") break;
  }
  try {
    await trigger();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
  } finally {
    await callAnyway(server, "stop_execution", { execution_id: executionId });
    await pull(0);
  }
  // A spy that overflowed the ring could have lost what it saw: that would prove nothing.
  expect(skipped, "the spy's output overflowed the ring buffer").toBe(0);
  return { started, lines, sawControl: sawControl || lines.some((line) => line.includes(control)) };
}

// Attack 4: what ends a trace whose server was SIGKILLed. Shorter than the defaults (src/config.ts:
// attach wait 20 s, grace 10 s) to keep the files quick; the bound is computed from these.
const TRACE_TIMEOUT_SECONDS = 3;
const ATTACH_WAIT_MS = 8_000;
const KILL_GRACE_MS = 2_000;
const SLACK_MS = 5_000;
/** How long after exec_program began no bpftrace of a SIGKILLed server may be alive. */
export const SURVIVAL_BOUND_MS = TRACE_TIMEOUT_SECONDS * 1000 + ATTACH_WAIT_MS + KILL_GRACE_MS + SLACK_MS;

/** A program that tries to outlive its deadline; `expect` says what the fixed gateway must do with it. */
export interface DeadlineAttack {
  name: string;
  program: (marker: string) => string;
  expect: "start" | "refuse" | "refuse-or-guard";
}

/** Programs that print nothing: a print into the dead server's pipe would end them by SIGPIPE and hide the bug. */
export const DEADLINE_ATTACKS: DeadlineAttack[] = [
  { name: "a plain guarded trace (control)", program: (marker) => `// ${marker}\ninterval:ms:200 { @ticks = count(); }`, expect: "start" },
  { name: "#define interval / / turning the appended guard into a comment", program: (marker) => `// ${marker}\n#define interval / /\nprofile:hz:49 { @samples = count(); }`, expect: "refuse" },
  { name: 'a quoted "profile" provider hiding the probe from the policy', program: (marker) => `// ${marker}\n"profile":hz:49 { @samples = count(); }`, expect: "refuse-or-guard" },
];

/**
 * Starts `program` on a fresh server, SIGKILLs the server as soon as exec_program answers, and
 * returns that answer and the bpftrace processes carrying `marker` still alive at SURVIVAL_BOUND_MS
 * (then ends them, by pid: they are ours).
 */
export async function survivorsAfterServerKill(
  program: string,
  marker: string,
  serverOptions: { env?: Record<string, string>; launcher?: string[] } = {},
): Promise<{ result: CallToolResult; survivors: number[]; serverLog: string }> {
  const server = await startServer({
    ...serverOptions,
    env: { ...bpftraceUnderTestEnv(), BPFTRACE_MCP_ATTACH_WAIT_MS: String(ATTACH_WAIT_MS), BPFTRACE_MCP_KILL_GRACE_MS: String(KILL_GRACE_MS), ...serverOptions.env },
  });
  const startedAt = Date.now();
  let result: CallToolResult;
  try {
    result = await callAnyway(server, "exec_program", { program, timeout: TRACE_TIMEOUT_SECONDS });
  } finally {
    await killServerHard(server);
  }
  const serverLog = server.stderr();
  await server.close().catch(() => undefined);
  if (!result.isError) await waitFor(() => bpftraceProcessesWith(marker).length === 0, Math.max(0, startedAt + SURVIVAL_BOUND_MS - Date.now()), 250);
  const survivors = bpftraceProcessesWith(marker);
  for (const pid of processesWith(marker)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
  return { result, survivors, serverLog };
}

/** The checks of one deadline attack, after survivorsAfterServerKill. */
export function expectDeadlineHeld(attack: DeadlineAttack, outcome: { result: CallToolResult; survivors: number[]; serverLog: string }): void {
  const { result, survivors, serverLog } = outcome;
  const summary = JSON.stringify(result).slice(0, 400);
  expect(survivors, `bpftrace still running ${SURVIVAL_BOUND_MS} ms after exec_program began (result: ${summary}; server log: ${serverLog.slice(-400)})`).toEqual([]);
  if (attack.expect === "start") expect(result.isError, summary).toBeFalsy();
  if (attack.expect === "refuse" || (attack.expect === "refuse-or-guard" && result.isError)) expectPolicyRefused(result, "exec_program", attack.name);
}
