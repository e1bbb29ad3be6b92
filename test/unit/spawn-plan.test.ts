import { describe, expect, it } from "vitest";
import { buildSpawnPlan, withNice } from "../../src/bpftrace/command.js";
import { withDeadlineGuard } from "../../src/bpftrace/deadline-guard.js";

const config = { childEnv: {}, sudoPassword: "hunter2-secret" };

describe("buildSpawnPlan", () => {
  it("runs bpftrace directly as root with no stdin", () => {
    const plan = buildSpawnPlan("root", "/usr/bin/bpftrace", ["-e", "BEGIN {}"], config);
    expect(plan).toMatchObject({ file: "/usr/bin/bpftrace", args: ["-e", "BEGIN {}"], stdinText: null, cwd: "/" });
  });

  it("feeds the sudo password on stdin only, never in argv or the environment", () => {
    const plan = buildSpawnPlan("sudo-password", "/usr/bin/bpftrace", ["-l"], config);
    expect(plan.file).toBe("sudo");
    expect(plan.args).toEqual(["-S", "-k", "-p", "", "--", "/usr/bin/bpftrace", "-l"]);
    expect(plan.stdinText).toBe("hunter2-secret\n");
    expect(JSON.stringify(plan.args)).not.toContain("hunter2");
    expect(JSON.stringify(plan.env)).not.toContain("hunter2");
  });

  it("uses sudo -n when no password is configured", () => {
    const plan = buildSpawnPlan("sudo-nopasswd", "/usr/bin/bpftrace", ["-l"], { ...config, sudoPassword: "" });
    expect(plan.args).toEqual(["-n", "--", "/usr/bin/bpftrace", "-l"]);
    expect(plan.stdinText).toBeNull();
  });

  it("gives the child a minimal environment plus the configured BPFTRACE_* settings", () => {
    const plan = buildSpawnPlan("root", "/usr/bin/bpftrace", [], { ...config, childEnv: { BPFTRACE_STRLEN: "200" } });
    expect(Object.keys(plan.env).sort()).toEqual(["BPFTRACE_STRLEN", "LANG", "LC_ALL", "PATH"]);
  });
});

describe("withDeadlineGuard", () => {
  it("appends an interval probe that exits once elapsed passes the deadline", () => {
    const guarded = withDeadlineGuard("BEGIN { }", 10_500);
    expect(guarded.startsWith("BEGIN { }\n")).toBe(true);
    expect(guarded).toContain("interval:ms:100 { if (elapsed >= 10500000000) { exit(); } }");
  });

  it("keeps the user's line numbers by appending after a final newline", () => {
    const guarded = withDeadlineGuard("BEGIN {\n}\n", 1000);
    expect(guarded.split("\n").slice(0, 2)).toEqual(["BEGIN {", "}"]);
  });

  it("lowers a trace's priority through nice, which then execs sudo with its arguments unchanged", () => {
    const plan = buildSpawnPlan("sudo-nopasswd", "/usr/bin/bpftrace", ["-e", "BEGIN {}"], { ...config, sudoPassword: "" });
    const niced = withNice(plan, "/usr/bin/nice", 10);
    expect(niced.file).toBe("/usr/bin/nice");
    expect(niced.args).toEqual(["-n", "10", "--", "sudo", "-n", "--", "/usr/bin/bpftrace", "-e", "BEGIN {}"]);
    expect(niced.stdinText).toBe(plan.stdinText);
    expect(niced.env).toEqual(plan.env);
  });

  it("leaves the plan alone at nice 0 or without a nice executable", () => {
    const plan = buildSpawnPlan("root", "/usr/bin/bpftrace", ["-l"], config);
    expect(withNice(plan, "/usr/bin/nice", 0)).toEqual(plan);
    expect(withNice(plan, null, 10)).toEqual(plan);
  });
});
