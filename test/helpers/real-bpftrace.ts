import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe } from "vitest";

/** Whether the real bpftrace can trace here, and if not, why. Decided once per test process. */
export interface RealBpftrace {
  available: boolean;
  reason: string;
}

let cached: RealBpftrace | undefined;

export function realBpftrace(): RealBpftrace {
  cached ??= probe();
  return cached;
}

function probe(): RealBpftrace {
  const which = spawnSync("sh", ["-c", "command -v bpftrace"], { encoding: "utf8" });
  if (which.status !== 0) return { available: false, reason: "bpftrace is not installed (apt-get install bpftrace)" };
  if (process.geteuid?.() !== 0) return { available: false, reason: "tests with the real bpftrace need root (run as root, as CI does)" };
  if (!existsSync("/sys/kernel/tracing/events") && !existsSync("/sys/kernel/debug/tracing/events")) {
    return { available: false, reason: "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)" };
  }
  const run = spawnSync("bpftrace", ["-e", "BEGIN { printf(\"ok\\n\"); exit(); }"], { encoding: "utf8", timeout: 30_000 });
  if (run.status !== 0 || !run.stdout.includes("ok")) {
    return { available: false, reason: `bpftrace cannot trace here: ${(run.stderr || "").split("\n").filter((line) => !line.includes("RLIMIT_MEMLOCK")).slice(0, 3).join(" ")}` };
  }
  return { available: true, reason: "" };
}

/**
 * describe() for tests that need the real bpftrace: runs them when it can trace, skips them with
 * the reason on a laptop, and fails them in CI (CI=true), where they are required.
 */
export function describeReal(name: string, body: () => void): void {
  const real = realBpftrace();
  if (real.available) {
    describe(name, body);
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
