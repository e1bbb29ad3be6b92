// Runs bpftrace the way the server does (same argv, env and working directory), without the server.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import process from "node:process";
import { childEnvironment } from "../../dist/bpftrace/command.js";
import { resolveExecutable } from "../../dist/bpftrace/host.js";
import { own } from "./processes.mjs";

const PIPE_READER = fileURLToPath(new URL("./pipe-reader.mjs", import.meta.url));
/** The environment the server gives bpftrace (no BPFTRACE_* settings configured). */
export const BPFTRACE_ENV = childEnvironment({ childEnv: {} });

/** Absolute path of the bpftrace the server would run, or throws. */
export function findBpftrace() {
  const file = resolveExecutable(process.env.BPFTRACE_PATH || "bpftrace", process.env.PATH);
  if (!file) throw new Error("bpftrace is not on PATH: the bench needs the real bpftrace");
  return file;
}

// bpftrace 0.17 sometimes ignores a SIGINT that arrives while it is still attaching (just after BEGIN ran).
const SIGINT_GRACE_MS = 1_000;

/** SIGINT, then SIGKILL if bpftrace has not exited after a second; resolves once it has. */
async function endChild(child, exited) {
  child.kill("SIGINT");
  const timer = setTimeout(() => child.kill("SIGKILL"), SIGINT_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** Spawns `bpftrace -e program` and resolves with the ms until a stdout line equal to `wanted` arrives. */
export async function timeToLine(bpftraceFile, program, wanted) {
  const started = performance.now();
  const child = spawn(bpftraceFile, ["-e", program], { cwd: "/", env: BPFTRACE_ENV, stdio: ["ignore", "pipe", "pipe"], detached: true });
  own(child);
  child.stderr.resume();
  const exited = once(child, "close");
  let pending = "";
  let elapsedMs = Number.NaN;
  try {
    elapsedMs = await new Promise((resolve, reject) => {
      child.stdout.on("data", (chunk) => {
        pending += chunk.toString("utf8");
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        if (lines.includes(wanted)) resolve(performance.now() - started);
      });
      child.once("close", (code) => reject(new Error(`bpftrace exited (${String(code)}) before printing '${wanted}'`)));
      child.once("error", reject);
    });
  } finally {
    await endChild(child, exited);
  }
  return elapsedMs;
}

/** Runs `bpftrace -l [filter]` to completion; resolves with the ms it took and the probes it printed. */
export async function listProbesDirect(bpftraceFile, filter) {
  const started = performance.now();
  const child = spawn(bpftraceFile, filter === undefined ? ["-l"] : ["-l", "--", filter], { cwd: "/", env: BPFTRACE_ENV, stdio: ["ignore", "pipe", "pipe"] });
  own(child);
  child.stderr.resume();
  let text = "";
  child.stdout.on("data", (chunk) => {
    text += chunk.toString("utf8");
  });
  const [code] = await once(child, "close");
  const elapsedMs = performance.now() - started;
  if (code !== 0) throw new Error(`bpftrace -l exited with ${String(code)}`);
  return { elapsedMs, probes: text.split("\n").filter((line) => line.length > 0).length };
}

/** The minimal-reader baseline (pipe-reader.mjs in its own process): counts for one run of `program`. */
export async function readThroughPipe(bpftraceFile, program, durationMs) {
  const child = spawn(process.execPath, [PIPE_READER, bpftraceFile, String(durationMs), program], { env: BPFTRACE_ENV, stdio: ["ignore", "pipe", "inherit"] });
  own(child);
  let output = "";
  child.stdout.on("data", (chunk) => {
    output += chunk.toString("utf8");
  });
  const [code] = await once(child, "close");
  if (code !== 0) throw new Error(`pipe reader exited with ${String(code)}`);
  return JSON.parse(output);
}
