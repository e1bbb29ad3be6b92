import { spawn } from "node:child_process";
import type { SpawnPlan } from "./command.js";

export interface CommandOutcome {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved in the order they were read. */
  all: string;
  timedOut: boolean;
  /** Set when the process could not be started at all (e.g. "spawn sudo ENOENT"). */
  spawnError: string | null;
}

// SIGTERM first (sudo relays it); SIGKILL only if bpftrace ignored it this long.
const FORCE_KILL_AFTER_MS = 5_000;
// `bpftrace -l` prints a few MB on big hosts; anything far past that is not a listing.
const MAX_OUTPUT_BYTES = 256 * 1024 * 1024;

/**
 * Runs a short command to completion and collects its output. One-shot commands (`--version`, `-l`,
 * `-lv`, `--info`, dry runs) use node:child_process directly: the server's readiness check then does
 * not wait for execa's hundred-odd modules to load; execa is kept for the supervised traces.
 */
export function runCommand(plan: SpawnPlan, timeoutMs: number): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const all: Buffer[] = [];
    let bytes = 0;
    let timedOut = false;
    let settled = false;
    let forceTimer: NodeJS.Timeout | null = null;
    const child = spawn(plan.file, plan.args, {
      cwd: plan.cwd,
      env: plan.env,
      stdio: [plan.stdinText === null ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const finish = (outcome: Pick<CommandOutcome, "exitCode" | "signal" | "spawnError">): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (forceTimer) clearTimeout(forceTimer);
      const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString("utf8");
      resolve({ ...outcome, stdout: text(stdout), stderr: text(stderr), all: text(all), timedOut });
    };
    const terminate = (): void => {
      child.kill("SIGTERM");
      forceTimer ??= setTimeout(() => child.kill("SIGKILL"), FORCE_KILL_AFTER_MS);
    };
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_OUTPUT_BYTES) {
        terminate();
        return;
      }
      into.push(chunk);
      all.push(chunk);
    };
    child.stdout?.on("data", collect(stdout));
    child.stderr?.on("data", collect(stderr));
    const timer = setTimeout(() => {
      timedOut = true;
      terminate();
    }, timeoutMs);
    child.once("error", (error) => finish({ exitCode: null, signal: null, spawnError: error.message }));
    child.once("close", (exitCode, signal) => finish({ exitCode, signal, spawnError: null }));
    if (plan.stdinText !== null && child.stdin) {
      // EPIPE when sudo exits before reading is expected; the exit status tells the story.
      child.stdin.on("error", () => undefined);
      child.stdin.end(plan.stdinText);
    }
  });
}
