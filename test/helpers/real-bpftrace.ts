import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe } from "vitest";
import { parseVersion, type BpftraceVersion } from "../../src/bpftrace/version.js";

/**
 * The bpftrace the real tests run against, and whether it can trace here (if not, why). Decided
 * once per test process. It is BPFTRACE_PATH when set, as for the server, else `bpftrace` on PATH:
 * `BPFTRACE_PATH=/path/to/bpftrace npx vitest run --project real` proves another release.
 */
export interface RealBpftrace {
  available: boolean;
  reason: string;
  /** What the server is given as BPFTRACE_PATH: $BPFTRACE_PATH, or "bpftrace" (looked up on PATH). */
  path: string;
  /** From `--version`; null when it did not run or printed no version. */
  version: BpftraceVersion | null;
  /**
   * The directory this bpftrace sees as "/": "/" for an ordinary install, the chroot for CI's
   * `bpftrace-<suite>` wrappers. Paths in programs (uprobe targets) are read from there.
   */
  root: string;
}

// Set by CI to the version the wrapper printed, so a wrapper that silently ran another bpftrace fails.
const EXPECTED_VERSION_VARIABLE = "BPFTRACE_TEST_EXPECT_VERSION";

let cached: RealBpftrace | undefined;

export function realBpftrace(): RealBpftrace {
  cached ??= probe();
  return cached;
}

/** The release under test (null when it could not run), for expectations that differ by version. */
export function versionUnderTest(): BpftraceVersion | null {
  return realBpftrace().version;
}

/** Where a path as bpftrace sees it (e.g. a uprobe's library) is found from this process. */
export function hostPathOf(pathSeenByBpftrace: string): string {
  const { root } = realBpftrace();
  return root === "/" ? pathSeenByBpftrace : join(root, pathSeenByBpftrace);
}

// Runs a short trace and, while it runs, reads which root the bpftrace process has (the wrapper
// may exec chroot first, so the pid is watched until its command is bpftrace). Prints "ROOT <dir>".
const TRACE_AND_FIND_ROOT = [
  '"$1" -e "$2" & pid=$!',
  'while kill -0 "$pid" 2>/dev/null; do',
  '  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = bpftrace ]; then echo "ROOT $(readlink "/proc/$pid/root")"; break; fi',
  "  sleep 0.01",
  "done",
  'wait "$pid"',
].join("\n");
// Lasts ~200 ms after attaching, so the watcher above sees the process however fast it compiled.
const TRACE_TEST = 'BEGIN { printf("ok\\n"); } interval:ms:200 { exit(); }';

function probe(): RealBpftrace {
  const path = process.env.BPFTRACE_PATH || "bpftrace";
  const unavailable = (reason: string, version: BpftraceVersion | null = null): RealBpftrace => ({ available: false, reason, path, version, root: "/" });
  const which = spawnSync("sh", ["-c", 'command -v "$1"', "sh", path], { encoding: "utf8" });
  if (which.status !== 0) {
    return unavailable(process.env.BPFTRACE_PATH ? `BPFTRACE_PATH=${path} is not an executable` : "bpftrace is not installed (apt-get install bpftrace)");
  }
  if (process.geteuid?.() !== 0) return unavailable("tests with the real bpftrace need root (run as root, as CI does)");
  if (!existsSync("/sys/kernel/tracing/events") && !existsSync("/sys/kernel/debug/tracing/events")) {
    return unavailable("tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)");
  }
  const versionRun = spawnSync(path, ["--version"], { encoding: "utf8", timeout: 30_000 });
  const version = parseVersion(`${versionRun.stdout ?? ""}\n${versionRun.stderr ?? ""}`);
  if (version === null) return unavailable(`${path} --version printed no version: ${firstLines(versionRun.stdout || versionRun.stderr || "")}`);
  const expected = process.env[EXPECTED_VERSION_VARIABLE];
  if (expected && expected !== version.text) return unavailable(`${path} is bpftrace ${version.text}, not the ${expected} that ${EXPECTED_VERSION_VARIABLE} asks for`, version);
  const run = spawnSync("sh", ["-c", TRACE_AND_FIND_ROOT, "sh", path, TRACE_TEST], { encoding: "utf8", timeout: 30_000 });
  if (run.status !== 0 || !/^ok$/m.test(run.stdout)) {
    return unavailable(`bpftrace ${version.text} cannot trace here: ${firstLines(run.stderr || "")}`, version);
  }
  const root = /^ROOT (\/.*)$/m.exec(run.stdout)?.[1] ?? "/";
  return { available: true, reason: "", path, version, root };
}

function firstLines(text: string): string {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.includes("RLIMIT_MEMLOCK"))
    .slice(0, 3)
    .join(" ");
}

/** " [bpftrace 0.23.2]", naming the release a describe block proved; "" when none could run. */
function versionTag(real: RealBpftrace): string {
  return real.version ? ` [bpftrace ${real.version.text}${real.root === "/" ? "" : ` in ${real.root}`}]` : "";
}

/**
 * describe() for tests that need the real bpftrace: runs them when it can trace, skips them with
 * the reason on a laptop, and fails them in CI (CI=true), where they are required. The block's
 * name carries the bpftrace version it ran against.
 */
export function describeReal(name: string, body: () => void): void {
  const real = realBpftrace();
  if (real.available) {
    describe(`${name}${versionTag(real)}`, body);
    return;
  }
  if (process.env.CI) {
    describe(name, () => {
      throw new Error(`real bpftrace required in CI but unavailable: ${real.reason}`);
    });
    return;
  }
  describe.skip(`${name} (skipped: ${real.reason})`, body);
}
