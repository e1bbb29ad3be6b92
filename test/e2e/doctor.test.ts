import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeReal } from "../helpers/real-bpftrace.js";
import { SERVER_ENTRY } from "../helpers/server-process.js";

interface DoctorRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

interface JsonCheck {
  id: string;
  status: string;
  detail: string;
  fix: string | null;
}

let home: string;
let workDir: string;

beforeAll(() => {
  if (!existsSync(SERVER_ENTRY)) throw new Error(`${SERVER_ENTRY} is missing: run \`npm run build\` first (npm test does)`);
  // An empty HOME and working directory: no client config or .env of the developer's leaks in.
  home = mkdtempSync(join(tmpdir(), "doctor-e2e-home-"));
  workDir = mkdtempSync(join(tmpdir(), "doctor-e2e-cwd-"));
});

afterAll(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

/** Runs the built `doctor` command with only the variables given here. */
function runDoctor(args: string[], env: Record<string, string> = {}): DoctorRun {
  const result = spawnSync(process.execPath, [SERVER_ENTRY, "doctor", ...args], {
    cwd: workDir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, BPFTRACE_MCP_AUDIT_LOG: "off", ...env },
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function parseChecks(stdout: string): { canTrace: boolean; checks: JsonCheck[] } {
  return JSON.parse(stdout) as { canTrace: boolean; checks: JsonCheck[] };
}

describe("doctor without bpftrace", () => {
  it("exits non-zero and says bpftrace was not found, with the install command", () => {
    const run = runDoctor([], { BPFTRACE_PATH: "/nonexistent/bpftrace" });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/^\[FAIL\] bpftrace +bpftrace not found \(BPFTRACE_PATH=\/nonexistent\/bpftrace\)$/m);
    expect(run.stdout).toMatch(/^ +fix: Install it \(Debian\/Ubuntu: apt-get install bpftrace/m);
    expect(run.stdout).toMatch(/^Verdict: CANNOT TRACE/m);
  });

  it("prints parseable JSON with canTrace false under --json", () => {
    const run = runDoctor(["--json"], { BPFTRACE_PATH: "/nonexistent/bpftrace" });
    expect(run.status).toBe(1);
    const report = parseChecks(run.stdout);
    expect(report.canTrace).toBe(false);
    expect(report.checks.find((item) => item.id === "bpftrace")).toMatchObject({ status: "fail", fix: expect.stringContaining("apt-get install bpftrace") });
    expect(report.checks.find((item) => item.id === "mcp-clients")).toMatchObject({ status: "info", detail: expect.stringContaining("no client is configured") });
  });

  it("names the settings file given with --env", () => {
    const run = runDoctor(["--json", "--env", "/dev/null"], { BPFTRACE_PATH: "/nonexistent/bpftrace" });
    expect(parseChecks(run.stdout).checks.find((item) => item.id === "env-file")?.detail).toBe("/dev/null");
  });
});

describeReal("doctor with the real bpftrace as root", () => {
  it("exits 0 with every essential check ok and shows the bpftrace version", () => {
    const version = spawnSync("bpftrace", ["--version"], { encoding: "utf8" }).stdout.trim().replace(/^bpftrace\s+/, "");
    const run = runDoctor([]);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^\\[ok\\] +bpftrace +/\\S+/bpftrace ${version.replace(/[.]/g, "\\.")} \\(known to work\\)$`, "m"));
    expect(run.stdout).toMatch(/^\[ok\] +privileges +running as root/m);
    expect(run.stdout).toMatch(/^\[ok\] +trace test +.*printed doctor-ok$/m);
    expect(run.stdout).toMatch(/^Verdict: ready to trace\./m);
  });

  it("reports canTrace true and the probe counts in JSON", () => {
    const run = runDoctor(["--json"]);
    expect(run.status).toBe(0);
    const report = parseChecks(run.stdout);
    expect(report.canTrace).toBe(true);
    const statusOf = (id: string) => report.checks.find((item) => item.id === id)?.status;
    expect(["bpftrace", "privileges", "trace-test", "tracefs"].map(statusOf)).toEqual(["ok", "ok", "ok", "ok"]);
    expect(report.checks.find((item) => item.id === "probes")?.detail).toMatch(/tracepoint \d+/);
  });
});
