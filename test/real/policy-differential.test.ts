import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { checkProgram } from "../../src/policy/index.js";
import { describeReal } from "../helpers/real-bpftrace.js";
import { bpftraceView, compare, describeBpftrace, POLICY_OPTIONS, runDifferential, summary, type Disagreement } from "../fuzz/policy-differential.js";

// One bpftrace per run: CI sets BPFTRACE_PATH to each version's wrapper in turn.
const command = (process.env.BPFTRACE_PATH ?? "bpftrace").split(" ");
const kept = JSON.parse(readFileSync(new URL("../fuzz/disagreements.json", import.meta.url), "utf8")) as Disagreement[];

describeReal("the policy against bpftrace's own parse", () => {
  test("allows none of the programs the fuzzer once found it misreading, or reads them as bpftrace does", async () => {
    const { dump } = await describeBpftrace(command);
    const remaining: string[] = [];
    for (const { program } of kept) {
      const decision = checkProgram(program, POLICY_OPTIONS);
      if (!decision.allowed) continue;
      const view = await bpftraceView(command, dump, program);
      const differences = view ? compare(decision, view) : [];
      if (differences.length > 0) remaining.push(`${differences.join("; ")}\n${program}`);
    }
    expect(remaining).toEqual([]);
  });

  test("150 generated programs: whatever the policy allows, it reports every call, probe and config key bpftrace parsed", async () => {
    const seed = Number(process.env.FUZZ_SEED ?? 20_240_601);
    const figures = await runDifferential({ command, checkProgram, seed, count: 150 });
    process.stderr.write(`${summary(figures)} (seed ${seed})\n`);
    expect(figures.disagreements.map(({ program, differences }) => `${differences.join("; ")}\n${program}`)).toEqual([]);
    expect(figures.compared).toBeGreaterThan(0);
  }, 90_000);
});
