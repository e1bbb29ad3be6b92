import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The real bpftrace behind a wrapper that records every invocation, to prove what the server did (not) spawn. */
export interface RecordingBpftrace {
  /** Pass as BPFTRACE_PATH. */
  path: string;
  /** Every argv the server ran bpftrace with so far, oldest first. */
  invocations: () => string[][];
  /** Deletes the wrapper and its log. */
  remove: () => void;
}

// Arguments are written NUL-separated and each call ends with this record separator (ASCII RS).
const END_OF_CALL = "\u001e";

/** Writes `bpftrace` (a /bin/sh wrapper that logs its argv, then execs the one under test: BPFTRACE_PATH, else PATH's). */
export function installRecordingBpftrace(): RecordingBpftrace {
  const which = spawnSync("sh", ["-c", 'command -v "$1"', "sh", process.env.BPFTRACE_PATH || "bpftrace"], { encoding: "utf8" });
  const real = which.stdout.trim();
  if (which.status !== 0 || !real.startsWith("/")) throw new Error("bpftrace is not on PATH (nor BPFTRACE_PATH)");
  const directory = mkdtempSync(join(tmpdir(), "recording-bpftrace-"));
  const log = join(directory, "invocations");
  const path = join(directory, "bpftrace");
  writeFileSync(log, "");
  // One printf per call: the log stays one record per invocation even when calls overlap.
  writeFileSync(path, `#!/bin/sh\nprintf '%s\\0' "$@" '${END_OF_CALL}' >> '${log}'\nexec '${real}' "$@"\n`);
  chmodSync(path, 0o755);
  return {
    path,
    invocations: () =>
      existsSync(log)
        ? readFileSync(log, "utf8")
            .split(`${END_OF_CALL}\0`)
            .filter((record) => record !== "")
            .map((record) => record.split("\0").slice(0, -1))
        : [],
    remove: () => rmSync(directory, { recursive: true, force: true }),
  };
}
