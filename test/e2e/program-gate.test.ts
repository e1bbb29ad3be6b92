// The gate's worker thread, as built (the worker is a file of dist/): big programs are decided
// there, exactly as on the main thread, and a lost worker loses no check.
import { describe, expect, it } from "vitest";
import type { ProgramGate as ProgramGateType } from "../../src/executions/gate.js";
import { checkProgram } from "../../src/policy/index.js";
import { createLogger } from "../../src/logger.js";

const { ProgramGate, policyOptions } = (await import(new URL("../../dist/executions/gate.js", import.meta.url).href)) as typeof import("../../src/executions/gate.js");

const SETTINGS = { allow: [], maxProgramBytes: 65_536, maxProgramLines: 2_000 };
const PROBE = 'tracepoint:syscalls:sys_enter_openat /comm == "bash"/ { @opens[comm, pid] = count(); printf("%s\\n", str(args->filename)); }\n';
const BIG = PROBE.repeat(Math.floor(60_000 / PROBE.length));
const BIG_REFUSED = `${BIG}BEGIN { system("id"); }\n`;

describe("the program gate's worker thread", () => {
  it("decides a big program on the worker exactly as the main thread does, refusals included", async () => {
    const gate: ProgramGateType = new ProgramGate(SETTINGS, createLogger("silent"));
    try {
      const [allowed, refused, small] = await Promise.all([gate.check(BIG), gate.check(BIG_REFUSED), gate.check("BEGIN { exit(); }\n")]);
      expect(gate.checked).toEqual({ inline: 1, worker: 2 });
      expect(allowed).toEqual(checkProgram(BIG, policyOptions(SETTINGS)));
      expect(allowed.allowed).toBe(true);
      expect(allowed.sites).toHaveLength(Math.floor(60_000 / PROBE.length));
      expect(refused.allowed).toBe(false);
      expect(refused.violations.map((violation) => violation.construct)).toEqual(["system("]);
      expect(small.allowed).toBe(true);
    } finally {
      await gate.close();
    }
  });

  it("answers checks pending on a worker that dies on the main thread, and keeps deciding after", async () => {
    const gate: ProgramGateType = new ProgramGate(SETTINGS, createLogger("silent"));
    try {
      const pending = Array.from({ length: 4 }, () => gate.check(BIG_REFUSED));
      const worker = (gate as unknown as { worker: { terminate(): Promise<number> } | null }).worker;
      expect(worker).not.toBeNull();
      await worker?.terminate();
      const decisions = await Promise.all(pending);
      for (const decision of decisions) expect(decision.allowed).toBe(false);
      expect(gate.checked.inline + gate.checked.worker).toBe(4);
      expect((await gate.check(BIG)).allowed).toBe(true);
    } finally {
      await gate.close();
    }
  });
});
