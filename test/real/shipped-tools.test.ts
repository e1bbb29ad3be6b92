// bpftrace's own tools, as the bpftrace under test ships them (/usr/sbin/*.bt on Debian), through the
// server: the policy passes them (cat() in oomkill.bt is the one refusal), and a tool whose probes do
// not attach on this kernel comes back from exec_program as ATTACH_ERROR, never as a running trace
// that fails later (bpftrace 0.17-0.23 print "Attaching N probes" before attaching).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { checkProgram } from "../../src/policy/index.js";
import { describeReal, realBpftrace } from "../helpers/real-bpftrace.js";
import { startServer, textOf, type RunningServer } from "../helpers/server-process.js";

const TOOL_DIRECTORIES = ["usr/sbin", "usr/share/bpftrace/tools"];
// Refusals these tools earn on purpose: reading a file with cat().
const EXPECTED_REFUSALS = new Set(["builtin"]);
// Attach failures show as these codes, compile failures (a tool needing headers or arguments) as COMPILE_ERROR.
const START_CODES = new Set(["ATTACH_ERROR", "COMPILE_ERROR"]);

function shippedTools(): { name: string; program: string }[] {
  const { root } = realBpftrace();
  for (const directory of TOOL_DIRECTORIES) {
    const full = join(root, directory);
    if (!existsSync(full)) continue;
    const names = readdirSync(full).filter((name) => name.endsWith(".bt")).sort();
    if (names.length > 0) return names.map((name) => ({ name, program: readFileSync(join(full, name), "utf8") }));
  }
  return [];
}

const codeOf = (text: string): string => /^([A-Z_]+):/.exec(text)?.[1] ?? "";

describeReal("bpftrace's own tools through the server", () => {
  const tools = shippedTools();
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ env: { BPFTRACE_MCP_KILL_GRACE_MS: "3000" } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("finds the tools this bpftrace ships", () => {
    expect(tools.length, `no *.bt tools under ${realBpftrace().root}`).toBeGreaterThan(20);
  });

  it("passes every shipped tool through the policy, refusing only cat()", () => {
    const refusedRules = tools.flatMap(({ name, program }) => {
      const decision = checkProgram(program, { allow: new Set(), maxBytes: 65536, maxLines: 2000, canRead: () => true });
      return decision.violations.map((violation) => `${name}: ${violation.rule} ${violation.construct}`);
    });
    expect(refusedRules.filter((line) => !EXPECTED_REFUSALS.has(line.split(" ")[1] ?? "")), refusedRules.join("\n")).toEqual([]);
    expect(refusedRules.length).toBeLessThanOrEqual(2);
  });

  it("starts each tool or says why at once: no attach failure comes back as a running trace", async () => {
    const outcomes: string[] = [];
    const failedLater: string[] = [];
    // Four at a time, the server's concurrency limit.
    const queue = [...tools];
    const worker = async (): Promise<void> => {
      for (let tool = queue.shift(); tool; tool = queue.shift()) {
        const started = await server.call("exec_program", { program: tool.program, timeout: 1 });
        if (started.isError) {
          const code = codeOf(textOf(started));
          outcomes.push(`${tool.name}: ${code}`);
          if (!START_CODES.has(code) && code !== "POLICY_REFUSED") failedLater.push(`${tool.name}: unexpected ${textOf(started).slice(0, 200)}`);
          continue;
        }
        const id = (started.structuredContent as { execution_id: string }).execution_id;
        let status = "running";
        let error = "";
        for (let attempt = 0; attempt < 20 && status === "running"; attempt += 1) {
          const page = (await server.call("get_result", { execution_id: id, wait_seconds: 2, offset: 1_000_000 })).structuredContent as { status: string; error: string | null };
          status = page.status;
          error = page.error ?? "";
        }
        outcomes.push(`${tool.name}: ${status}`);
        if (status === "failed" || status === "running") failedLater.push(`${tool.name}: ${status} after starting: ${error.slice(0, 200)}`);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    expect(failedLater, outcomes.join("\n")).toEqual([]);
    expect(outcomes.filter((line) => line.endsWith("timed_out") || line.endsWith("completed")).length).toBeGreaterThan(10);
  }, 600_000);
});
