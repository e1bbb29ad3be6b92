// The red team's attacks on the gateway, as root, through the MCP SDK client and the real bpftrace.
// Which attack (red-team number) each test covers:
//   1  "macro-joined builtins: …" — `#define X ca t(…)`, `ca/**/t`, and the same for debugf,
//      system, signal, override, config, import (bpftrace joins clang's tokens without spaces)
//   2  "a macro ending in / and a comment …" — the policy and clang disagree on where a comment is
//   3  "a spy on the server's own …" — write(2)/read(2) by the server's pid, write(2) by comm "node":
//      a marker in another call's program comment must never reach the spy (root variant)
//   4  "… after SIGKILL of the server …" — `#define interval / /`, a quoted "profile" provider, and
//      a plain trace: no bpftrace of ours alive after timeout + attach wait + grace
//   9  "a quoted watchpoint provider" — `"watchpoint":0x…:8:w`
import { readFileSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bpftraceProcessesWith } from "../helpers/processes.js";
import { describeReal } from "../helpers/real-bpftrace.js";
import { startServer, textOf, type RunningServer } from "../helpers/server-process.js";
import {
  absentPath,
  bpftraceUnderTestEnv,
  callAnyway,
  DEADLINE_ATTACKS,
  expectDeadlineHeld,
  everythingIn,
  expectNoSecret,
  expectPolicyRefused,
  newMarker,
  outputOfStarted,
  plantSecret,
  spyAround,
  startControlProcess,
  strWindows,
  survivorsAfterServerKill,
  type ControlProcess,
  type PlantedSecret,
} from "./support.js";

interface Attack {
  name: string;
  program: (secret: PlantedSecret) => string;
}

/** Attack 1: each refused builtin spelled so that only bpftrace's joining of clang's tokens makes it. */
const MACRO_JOINED: Attack[] = [
  { name: "cat split by a space: #define X ca t(…)", program: (s) => `#define X ca t("${s.file}")\nBEGIN { X; exit(); }` },
  { name: "cat split by a comment: #define X ca/**/t(…)", program: (s) => `#define X ca/**/t("${s.file}")\nBEGIN { X; exit(); }` },
  { name: "cat split in three: #define X c a t(…)", program: (s) => `#define X c a t("${s.file}")\nBEGIN { X; exit(); }` },
  { name: "debugf split by a space", program: (s) => `#define X debu gf("%s\\n", "${s.file}")\nBEGIN { X; exit(); }` },
  { name: "system split by a space", program: (s) => `#define X sys tem("cat ${s.file}")\nBEGIN { X; exit(); }` },
  { name: "system split by a comment", program: (s) => `#define X sys/**/tem("cat ${s.file}")\nBEGIN { X; exit(); }` },
  { name: "signal split by a space", program: () => `#define X sig nal("KILL")\nBEGIN { X; exit(); }` },
  { name: "override split by a space", program: () => `#define X over ride(-1)\nkprobe:vfs_read /pid == 0/ { X; }` },
  { name: "config split by a space", program: () => `#define X con fig = { max_strlen = 128 }\nX\nBEGIN { exit(); }` },
  { name: "import split by a space", program: (s) => `#define X imp ort "${s.file}";\nX\nBEGIN { exit(); }` },
];

// Attack 2: the policy and clang disagree on where the block comment opened after C ends, so the cat() between is code.
const COMMENT_DISAGREEMENT: Attack = {
  name: "#define C 1 / then C/* … cat(…); //*/",
  program: (s) => `#define C 1 /\nBEGIN { $a = C/*\n; cat("${s.file}"); //*/ + 2;\nexit(); }`,
};

/** Attack 9: a probe type the policy bans, quoted so the ban's text match misses it. */
const QUOTED_WATCHPOINT: Attack = { name: '"watchpoint":0x404020:8:w', program: () => `"watchpoint":0x404020:8:w { printf("hit\\n"); }` };

describeReal("gateway attacks (root): the red team's programs are refused and leak nothing", () => {
  const secret = plantSecret();
  const auditLog = absentPath("attacks-audit");
  const seen: string[] = [];
  let server: RunningServer;
  let controlProcess: ControlProcess;

  beforeAll(async () => {
    // The audit log is on so the server writes every program it is given: one more place a spy could read it.
    server = await startServer({ env: { ...bpftraceUnderTestEnv(), BPFTRACE_MCP_AUDIT_LOG: auditLog } });
    controlProcess = startControlProcess("root-spy");
  });

  afterAll(async () => {
    controlProcess?.stop();
    await server?.close();
    rmSync(secret.directory, { recursive: true, force: true });
    rmSync(auditLog, { force: true });
    rmSync(`${auditLog}.1`, { force: true });
  });

  /** validate_program and exec_program on `program`: neither may leak the secret, both must refuse. */
  async function expectRefusedWithoutLeak(attack: Attack): Promise<void> {
    const marker = newMarker("attack");
    const program = `${attack.program(secret)}\n// ${marker}`;
    const validated = await callAnyway(server, "validate_program", { program });
    const started = await callAnyway(server, "exec_program", { program, timeout: 5 });
    const output = await outputOfStarted(server, started);
    for (const [where, text] of [["validate_program", everythingIn(validated)], ["exec_program", everythingIn(started)], ["the started trace's output", output.join("\n")]] as const) {
      seen.push(text);
      expectNoSecret(text, secret, `${attack.name}: ${where}`);
    }
    expectPolicyRefused(validated, "validate_program", attack.name);
    expectPolicyRefused(started, "exec_program", attack.name);
    expect(bpftraceProcessesWith(marker)).toEqual([]);
  }

  describe("attack 1: builtins joined from macro tokens are refused, the canary never printed", () => {
    for (const attack of MACRO_JOINED) {
      it(attack.name, async () => {
        await expectRefusedWithoutLeak(attack);
      });
    }
  });

  it("attack 2: a comment the policy and clang read differently is refused, the canary never printed", async () => {
    await expectRefusedWithoutLeak(COMMENT_DISAGREEMENT);
  });

  it("attack 9: a quoted watchpoint provider is refused", async () => {
    await expectRefusedWithoutLeak(QUOTED_WATCHPOINT);
  });

  describe("attack 3 (root): a spy never sees the server's own reads and writes", () => {
    const serverPid = (): number => server.pid;

    /** Runs the spy, then another call whose program comment holds a fresh marker; the spy must see the control, never the marker. */
    async function expectSpyBlind(spyProgram: string): Promise<void> {
      const marker = newMarker("self");
      const report = await spyAround(server, spyProgram, controlProcess.control, async () => {
        await callAnyway(server, "validate_program", { program: `// ${marker}\nBEGIN { exit(); }` });
        const triggered = await callAnyway(server, "exec_program", { program: `// ${marker}\nBEGIN { printf("done\\n"); exit(); }`, timeout: 5 });
        await outputOfStarted(server, triggered);
      });
      const joined = report.lines.join("\n");
      seen.push(joined);
      expect(report.started.isError, textOf(report.started)).toBeFalsy();
      expect(report.sawControl, `the spy never printed the control string (is it tracing?): ${joined.slice(0, 800)}`).toBe(true);
      const leaked = report.lines.filter((line) => line.includes(marker));
      expect(leaked, `the spy saw the server's traffic (${leaked.length} lines)`).toEqual([]);
      // The audit log proves the marker did pass through the server.
      expect(readFileSync(auditLog, "utf8")).toContain(marker);
    }

    it("write(2) by the server's pid", async () => {
      await expectSpyBlind(
        `tracepoint:syscalls:sys_enter_write /pid == ${serverPid()} || pid == ${controlProcess.pid}/ { $a = (uint64)args->buf; ${strWindows("W", "$a", "args->count")} }`,
      );
    });

    it("read(2) of the server's stdin", async () => {
      await expectSpyBlind(
        [
          `tracepoint:syscalls:sys_enter_read /(pid == ${serverPid()} && args->fd == 0) || pid == ${controlProcess.pid}/ { @buf[tid] = (uint64)args->buf; }`,
          `tracepoint:syscalls:sys_exit_read /@buf[tid] != 0/ { $a = @buf[tid]; delete(@buf[tid]); ${strWindows("R", "$a", "args->ret")} }`,
        ].join("\n"),
      );
    });

    it('write(2) by any process named "node" but this test', async () => {
      await expectSpyBlind(`tracepoint:syscalls:sys_enter_write /comm == "node" && pid != ${process.pid}/ { $a = (uint64)args->buf; ${strWindows("W", "$a", "args->count")} }`);
    });
  });

  it("no result, trace output or server log line carried the canary", () => {
    expect(seen.length).toBeGreaterThan(MACRO_JOINED.length);
    seen.forEach((text, index) => expectNoSecret(text, secret, `result #${index}`));
    expectNoSecret(server.stderr(), secret, "the server's stderr");
  });
});

describeReal("attack 4 (root): no bpftrace of a SIGKILLed server outlives timeout + attach wait + grace", () => {
  for (const attack of DEADLINE_ATTACKS) {
    it(attack.name, async () => {
      const marker = newMarker("deadline");
      expectDeadlineHeld(attack, await survivorsAfterServerKill(attack.program(marker), marker));
    });
  }
});
