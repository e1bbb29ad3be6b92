import { describe, expect, it } from "vitest";
import type { SpawnPlan } from "../../src/bpftrace/command.js";
import { runCommand } from "../../src/bpftrace/run-command.js";

const node = (script: string, stdinText: string | null = null): SpawnPlan => ({
  file: process.execPath,
  args: ["-e", script],
  stdinText,
  env: { PATH: "/usr/bin:/bin" },
  cwd: "/",
});

describe("runCommand", () => {
  it("collects stdout, stderr and both in order, with the exit code", async () => {
    const script = `const fs = require("fs"); fs.writeSync(1, "out1\\n"); fs.writeSync(2, "err1\\n"); fs.writeSync(1, "out2\\n"); process.exitCode = 3;`;
    const outcome = await runCommand(node(script), 10_000);
    expect(outcome).toMatchObject({ exitCode: 3, signal: null, stdout: "out1\nout2\n", stderr: "err1\n", timedOut: false, spawnError: null });
    expect(outcome.all.split("\n").filter(Boolean).sort()).toEqual(["err1", "out1", "out2"]);
  });

  it("feeds stdin text and closes it", async () => {
    const outcome = await runCommand(node(`let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => process.stdout.write("got " + t));`, "secret\n"), 10_000);
    expect(outcome.stdout).toBe("got secret\n");
  });

  it("ends a command that outlives its timeout with SIGTERM and says so", async () => {
    const started = Date.now();
    const outcome = await runCommand(node("setInterval(() => {}, 1000);"), 300);
    expect(outcome).toMatchObject({ timedOut: true, exitCode: null, signal: "SIGTERM" });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("reports a command that cannot be started instead of throwing", async () => {
    const outcome = await runCommand({ ...node(""), file: "/nonexistent/command" }, 1_000);
    expect(outcome.spawnError).toMatch(/ENOENT/);
    expect(outcome.exitCode).toBeNull();
  });
});
