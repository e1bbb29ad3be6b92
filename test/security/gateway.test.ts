// The security gateway seen from a prompt-injected assistant: every way it might try to read a
// root-only file or run a command through the tools is refused with a reason, starts nothing and
// leaks nothing; programs that merely look similar still run.
import { existsSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bpftraceProcessesWith } from "../helpers/processes.js";
import { describeReal } from "../helpers/real-bpftrace.js";
import { startServer, textOf, waitFor, type RunningServer } from "../helpers/server-process.js";
import { filterEvasions, PROGRAM_EVASIONS, structNameEvasions } from "./evasions.js";
import {
  absentPath,
  callAnyway,
  everythingIn,
  executionCount,
  expectNoSecret,
  followToEnd,
  linesOf,
  newMarker,
  plantSecret,
  structuredOf,
} from "./support.js";

const SCHED_PROGRAM = '#include <linux/sched.h>\nBEGIN { printf("task pid %d\\n", ((struct task_struct *)curtask)->pid); exit(); }';
// Without kernel headers (e.g. a Debian container) clang finds only the UAPI linux/sched.h, which needs this type.
const SCHED_PROGRAM_SHIMMED = `#define __aligned_u64 unsigned long long\n${SCHED_PROGRAM}`;

describeReal("security gateway: a prompt-injected assistant cannot read a root-only file or run commands", () => {
  const secret = plantSecret();
  const outFile = absentPath("out");
  const touchFile = absentPath("touched");
  // Every result the server gave in this file, swept once more for the secret at the end.
  const seen: string[] = [];
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    await server?.close();
    rmSync(secret.directory, { recursive: true, force: true });
    rmSync(outFile, { force: true });
    rmSync(touchFile, { force: true });
  });

  const record = <T extends Parameters<typeof everythingIn>[0]>(result: T, where: string): T => {
    seen.push(everythingIn(result));
    expectNoSecret(everythingIn(result), secret, where);
    return result;
  };

  describe("exec_program refuses each evasion, names the construct and why, and starts no bpftrace", () => {
    for (const evasion of PROGRAM_EVASIONS) {
      it(evasion.name, async () => {
        const marker = newMarker("gateway");
        const before = await executionCount(server);
        const result = record(await server.call("exec_program", { program: `${evasion.program(secret)}\n// ${marker}`, timeout: 5 }), evasion.name);
        const text = textOf(result);
        expect(result.isError, text).toBe(true);
        expect(text.startsWith("POLICY_REFUSED: "), text).toBe(true);
        expect(text).toContain(`\`${evasion.construct}`);
        expect(text).toMatch(evasion.why);
        expect(text).toContain("Instead: ");
        expect(bpftraceProcessesWith(marker)).toEqual([]);
        expect(await executionCount(server)).toBe(before);
      });
    }
  });

  describe("validate_program refuses each evasion without compiling it", () => {
    for (const evasion of PROGRAM_EVASIONS) {
      it(evasion.name, async () => {
        const result = record(await server.call("validate_program", { program: evasion.program(secret) }), evasion.name);
        const text = textOf(result);
        const verdict = structuredOf(result);
        expect(text.startsWith("Refused by the security policy (nothing was compiled)"), text).toBe(true);
        expect(text).toContain(`\`${evasion.construct}`);
        expect(text).toMatch(evasion.why);
        expect(verdict).toMatchObject({ valid: false, compiled: null, policy: { allowed: false } });
        expect((verdict.policy as { violations: unknown[] }).violations.length).toBeGreaterThan(0);
      });
    }
  });

  describe("list_probes and describe_struct pass no option, shell word or path to bpftrace", () => {
    const filters = filterEvasions({ outFile, touchFile, secret });
    for (const filter of filters) {
      for (const verbose of [false, true]) {
        it(`refuses the filter ${JSON.stringify(filter)}${verbose ? " (verbose)" : ""}`, async () => {
          const result = record(await callAnyway(server, "list_probes", { filter, verbose }), filter);
          const text = textOf(result);
          expect(result.isError, text).toBe(true);
          expect(text.startsWith("INVALID_ARGUMENT: Invalid probe filter: "), text).toBe(true);
          expect(text).toContain("probe glob");
          expect(existsSync(outFile)).toBe(false);
          expect(existsSync(touchFile)).toBe(false);
        });
      }
    }

    for (const name of structNameEvasions({ outFile, touchFile })) {
      it(`refuses the struct name ${JSON.stringify(name)}`, async () => {
        const result = record(await callAnyway(server, "describe_struct", { name }), name);
        expect(result.isError, textOf(result)).toBe(true);
        expect(textOf(result)).toMatch(/name is a C type name/);
      });
    }

    it("wrote no -o file and ran no -c command, while a plain probe glob still works", async () => {
      const listed = record(await server.call("list_probes", { filter: "tracepoint:syscalls:sys_enter_kill" }), "a plain filter");
      expect(listed.isError, textOf(listed)).toBeFalsy();
      expect(structuredOf(listed).probes).toEqual(["tracepoint:syscalls:sys_enter_kill"]);
      expect(existsSync(outFile)).toBe(false);
      expect(existsSync(touchFile)).toBe(false);
    });
  });

  describe("what the policy lets reach bpftrace while naming the file still leaks nothing", () => {
    const probes = (file: string): string[] => [`uprobe:${file}:main { }`, `uprobe:${file}:* { }`, `usdt:${file}:provider:probe { }`];

    it("a uprobe or usdt on the secret file is only a compile error", async () => {
      for (const program of probes(secret.file)) {
        const ran = record(await server.call("exec_program", { program, timeout: 5 }), program);
        expect(ran.isError, program).toBe(true);
        expect(textOf(ran), program).toMatch(/^COMPILE_ERROR: [\s\S]*does not exist or is not executable/);
        const validated = record(await server.call("validate_program", { program }), program);
        expect(structuredOf(validated), program).toMatchObject({ valid: false, compiled: false, policy: { allowed: true } });
      }
    });

    it("list_probes on the secret file as a uprobe target lists nothing from it", async () => {
      const result = record(await callAnyway(server, "list_probes", { filter: `uprobe:${secret.file}:*`, verbose: true }), "uprobe listing");
      // record() has checked the secret is nowhere in it. Whether that is an error differs: 0.17 and
      // 0.23 fail on a file they cannot use; 0.27 lists no probes and exits 0.
      if (result.isError) {
        expect(textOf(result)).toMatch(/^BPFTRACE_FAILED: /);
      } else {
        expect(structuredOf(result), textOf(result)).toMatchObject({ probes: [], count: 0 });
      }
    });
  });

  describe("legitimate programs that resemble refused ones still run", () => {
    it('a "cat" string and an @cat map are not cat()', async () => {
      const program = `BEGIN { @cat = count(); printf("cat(\\"%s\\") is only text\\n", "${secret.file}"); exit(); }`;
      const validated = record(await server.call("validate_program", { program }), "validate @cat");
      expect(structuredOf(validated), textOf(validated)).toMatchObject({ valid: true, compiled: true, policy: { allowed: true } });
      const started = record(await server.call("exec_program", { program, timeout: 10 }), "exec @cat");
      expect(started.isError, textOf(started)).toBeFalsy();
      const { status, lines } = await followToEnd(server, structuredOf(started).execution_id as string);
      const texts = lines.map((line) => line.text);
      expect(status).toBe("completed");
      expect(texts).toContain(`cat("${secret.file}") is only text`);
      expect(texts).toContain("@cat: 1");
      texts.forEach((text) => expectNoSecret(text, secret, "the @cat run"));
    });

    it("tracepoint:syscalls:sys_enter_kill sees this test's kill(pid, 0)", async () => {
      const program = `tracepoint:syscalls:sys_enter_kill /args->pid == ${process.pid} && args->sig == 0/ { @cat[args->sig] = count(); printf("kill seen pid=%d\\n", args->pid); }`;
      const validated = record(await server.call("validate_program", { program }), "validate kill");
      expect(structuredOf(validated), textOf(validated)).toMatchObject({ valid: true, compiled: true });
      const started = record(await server.call("exec_program", { program, timeout: 15 }), "exec kill");
      expect(started.isError, textOf(started)).toBeFalsy();
      const executionId = structuredOf(started).execution_id as string;
      expect(structuredOf(started).attached_probes).toBe(1);
      // "Attaching N probes" is printed just before the attach completes: signal until the probe sees it.
      const seenKill = await waitFor(async () => {
        process.kill(process.pid, 0);
        return (await linesOf(server, executionId, 0.2)).includes(`kill seen pid=${process.pid}`);
      }, 8_000);
      expect(seenKill, JSON.stringify(await linesOf(server, executionId))).toBe(true);
      const stopped = await server.call("stop_execution", { execution_id: executionId });
      expect(structuredOf(stopped).status).toBe("stopped");
      expect((await linesOf(server, executionId)).some((text) => /^@cat\[0\]: \d+$/.test(text))).toBe(true);
    });

    it("#include <linux/sched.h> with a curtask cast is allowed, compiles and runs", async () => {
      const plain = record(await server.call("validate_program", { program: SCHED_PROGRAM }), "validate sched.h");
      const shimmed = record(await server.call("validate_program", { program: SCHED_PROGRAM_SHIMMED }), "validate shimmed sched.h");
      expect(structuredOf(plain).policy).toMatchObject({ allowed: true, violations: [] });
      expect(structuredOf(shimmed).policy).toMatchObject({ allowed: true, violations: [] });
      // The policy's part is proven above; which variant compiles depends on the machine's kernel headers.
      const program = structuredOf(plain).compiled === true ? SCHED_PROGRAM : SCHED_PROGRAM_SHIMMED;
      expect(structuredOf(program === SCHED_PROGRAM ? plain : shimmed), textOf(shimmed)).toMatchObject({ valid: true, compiled: true });
      const started = record(await server.call("exec_program", { program, timeout: 10 }), "exec sched.h");
      expect(started.isError, textOf(started)).toBeFalsy();
      const { status, lines } = await followToEnd(server, structuredOf(started).execution_id as string);
      expect(status).toBe("completed");
      expect(lines.some((line) => /^task pid \d+$/.test(line.text))).toBe(true);
    });
  });

  it("no result, error or server log line carried the secret", () => {
    expect(seen.length).toBeGreaterThan(PROGRAM_EVASIONS.length * 2);
    seen.forEach((text, index) => expectNoSecret(text, secret, `result #${index}`));
    expectNoSecret(server.stderr(), secret, "the server's stderr");
  });
});
