// The red team's attacks on a server run as an unprivileged user whose sudo runs bpftrace with a
// password (sudo -S, BPFTRACE_PASSWD), through the MCP SDK client and the real bpftrace.
// Which attack (red-team number) each test covers:
//   3  "the sudo password in a tool result" — spies on write(2) by the server's uid, on sudo's
//      read(2) of its stdin, and uprobes on libc's write/read and node's own uv_try_write/uv_write
//      (those only where bpftrace's root is the host's): the password must never appear in their output
//   4  "… after SIGKILL of the server …" (under sudo) — no bpftrace of ours alive after timeout +
//      attach wait + grace
//   8  "root reads any file the assistant names as a uprobe target" — a uprobe/usdt on a 0700
//      root-only script is refused naming the file, and bpftrace's read()/pread64() of it never
//      reaches a spy
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realBpftrace } from "../helpers/real-bpftrace.js";
import { startServer, textOf, type RunningServer } from "../helpers/server-process.js";
import { createSudoUser, describeWithSudoUser, type SudoUser } from "../helpers/sudo-user.js";
import {
  callAnyway,
  DEADLINE_ATTACKS,
  everythingIn,
  expectDeadlineHeld,
  expectNoSecret,
  expectPolicyRefused,
  newMarker,
  outputOfStarted,
  plantSecret,
  plantSecretScript,
  spyAround,
  startControlProcess,
  strWindows,
  survivorsAfterServerKill,
  type ControlProcess,
  type SpyReport,
} from "./support.js";

// The server, its node, libc and sudo are host files: a bpftrace in a chroot (CI's other releases)
// resolves uprobe paths inside it, where they are missing or other files, so such a spy sees nothing.
const bpftraceRoot = realBpftrace().root;
const hostFilesOutsideRoot = bpftraceRoot !== "/";
const skippedInChroot = hostFilesOutsideRoot ? ` (skipped: bpftrace's root is ${bpftraceRoot}, which holds neither the server's node nor its libc)` : "";

/** The libc the server's node loads (its read and write are what libuv calls). */
function libcPath(): string {
  const mapped = readFileSync("/proc/self/maps", "utf8")
    .split("\n")
    .map((line) => line.slice(line.indexOf("/")))
    .find((path) => /\/libc(?:\.so\.6|-[\d.]+\.so)$/.test(path));
  if (!mapped) throw new Error("libc is not mapped into this process");
  return mapped;
}

/**
 * Whether a spy's output holds the password: whole in one line, or spelled one byte per read
 * (sudo reads its stdin a byte at a time; lines `R <nsecs> 1 <byte>` are joined in time order).
 */
function holdsPassword(lines: string[], password: string): boolean {
  if (lines.some((line) => line.includes(password))) return true;
  const bytes = lines
    .map((line) => /^R[A-Z]* (\d+) 1 (.?)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ at: BigInt(match[1] as string), byte: match[2] as string }))
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
    .map((entry) => entry.byte)
    .join("");
  return bytes.includes(password);
}

describeWithSudoUser("sudo attacks: a server run as a sudo user leaks neither its password nor root-only files", () => {
  const secret = plantSecret();
  const secretScript = plantSecretScript(secret);
  const seen: string[] = [];
  let user: SudoUser;
  let server: RunningServer;
  let controlProcess: ControlProcess;

  beforeAll(async () => {
    user = createSudoUser();
    server = await startServer({ launcher: user.launcher, env: user.serverEnv });
    controlProcess = startControlProcess("sudo-spy", { uid: user.uid, gid: user.gid });
    const info = await server.call("bpf_info");
    if (info.isError || (info.structuredContent as { privilege?: string } | undefined)?.privilege !== "sudo-password") {
      throw new Error(`the server is not in sudo-password mode: ${textOf(info).slice(0, 300)}`);
    }
  });

  afterAll(async () => {
    controlProcess?.stop();
    await server?.close();
    user?.remove();
    rmSync(secret.directory, { recursive: true, force: true });
  });

  describe("attack 3: no spy sees the sudo password", () => {
    /** Runs the spy around a trace and a validation (each a fresh sudo -S); the spy must see the control, never the password. */
    async function expectNoPassword(spyProgram: string): Promise<SpyReport> {
      const report = await spyAround(server, spyProgram, controlProcess.control, async () => {
        const triggered = await callAnyway(server, "exec_program", { program: 'BEGIN { printf("trigger\\n"); exit(); }', timeout: 5 });
        seen.push(everythingIn(triggered), (await outputOfStarted(server, triggered)).join("\n"));
        seen.push(everythingIn(await callAnyway(server, "validate_program", { program: "BEGIN { exit(); }" })));
      });
      seen.push(everythingIn(report.started), report.lines.join("\n"));
      expect(report.started.isError, textOf(report.started)).toBeFalsy();
      expect(report.sawControl, `the spy never printed the control string (is it tracing?): ${report.lines.slice(0, 20).join("\n")}`).toBe(true);
      expect(holdsPassword(report.lines, user.password), "the spy's output holds the sudo password").toBe(false);
      return report;
    }

    it("write(2) by the server's uid, printing str(args->buf, args->count)", async () => {
      await expectNoPassword(`tracepoint:syscalls:sys_enter_write /uid == ${user.uid}/ { printf("W %s\\n", str(args->buf, args->count)); }`);
    });

    it("write(2) by the server's uid, printed in windows past str()'s length", async () => {
      await expectNoPassword(`tracepoint:syscalls:sys_enter_write /uid == ${user.uid}/ { $a = (uint64)args->buf; ${strWindows("W", "$a", "args->count")} }`);
    });

    it("sudo's read(2) of its stdin (sys_enter_read / sys_exit_read)", async () => {
      // buf() and %r, not str(p, n): from 0.23 that n counts the NUL, so it drops a read's last
      // byte (cutting the control string) and prints nothing of sudo's one-byte reads.
      await expectNoPassword(
        [
          `tracepoint:syscalls:sys_enter_read /comm == "sudo" || pid == ${controlProcess.pid}/ { @buf[tid] = (uint64)args->buf; }`,
          `tracepoint:syscalls:sys_exit_read /@buf[tid] != 0/ { if (args->ret > 0) { printf("R %llu %d %r\\n", nsecs, args->ret, buf(uptr(@buf[tid]), args->ret)); } delete(@buf[tid]); }`,
        ].join("\n"),
      );
    });

    it.skipIf(hostFilesOutsideRoot)(`uprobes on libc's write and read${skippedInChroot}`, async () => {
      const libc = libcPath();
      await expectNoPassword(
        [
          `uprobe:${libc}:write /uid == ${user.uid}/ { printf("UW %r\\n", buf(uptr(arg1), arg2)); }`,
          `uprobe:${libc}:read /comm == "sudo" || pid == ${controlProcess.pid}/ { @buf[tid] = arg1; }`,
          `uretprobe:${libc}:read /@buf[tid] != 0/ { if ((int64)retval > 0) { printf("RU %llu %d %r\\n", nsecs, (int64)retval, buf(uptr(@buf[tid]), retval)); } delete(@buf[tid]); }`,
        ].join("\n"),
      );
    });

    it.skipIf(hostFilesOutsideRoot)(`uprobes on node's own uv_try_write and uv_write${skippedInChroot}`, async () => {
      await expectNoPassword(
        [
          `uprobe:${process.execPath}:uv_try_write /uid == ${user.uid}/ { printf("UT %s\\n", str(uptr(*(uint64 *)arg1))); }`,
          `uprobe:${process.execPath}:uv_write /uid == ${user.uid}/ { printf("UV %s\\n", str(uptr(*(uint64 *)arg2))); }`,
        ].join("\n"),
      );
    });
  });

  it("an #include <…> that resolves to a header the server's user cannot read is refused, and never compiled", async () => {
    // A header in a root-only directory among the system include directories: clang, as root, would read it.
    const directory = `/usr/local/include/bpfmcp-${newMarker("hdr")}`;
    mkdirSync(directory, { mode: 0o700, recursive: true });
    writeFileSync(`${directory}/secret.h`, `${secret.token}\n`, { mode: 0o600 });
    try {
      const program = `#include <${directory.slice("/usr/local/include/".length)}/secret.h>\nBEGIN { exit(); }`;
      for (const tool of ["validate_program", "exec_program"] as const) {
        const result = await callAnyway(server, tool, tool === "exec_program" ? { program, timeout: 5 } : { program });
        seen.push(everythingIn(result));
        expectNoSecret(everythingIn(result), secret, `${tool} of an unreadable header`);
        expectPolicyRefused(result, tool, "an unreadable header");
        expect(textOf(result)).toContain("cannot read");
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  describe("attack 8: a uprobe or usdt target the server's user cannot read is refused, naming the file", () => {
    const targets = (): string[] => [`uprobe:${secretScript}:foo { }`, `uprobe:${secretScript}:* { }`, `usdt:${secretScript}:provider:probe { }`];

    it("the canary script really is unreadable to the server's user", () => {
      const probe = spawnSync(user.launcher[0] as string, [...user.launcher.slice(1), "head", "-c", "1", secretScript], { encoding: "utf8", timeout: 10_000 });
      expect(probe.status, probe.stdout).not.toBe(0);
    });

    it("exec_program and validate_program refuse each target, while a spy on bpftrace's reads sees no canary", async () => {
      const results: { tool: "exec_program" | "validate_program"; program: string; result: Awaited<ReturnType<typeof callAnyway>> }[] = [];
      const report = await spyAround(
        server,
        [
          // bpftrace 0.17 checks a uprobe target's ELF header with pread64(2); others with read(2).
          `tracepoint:syscalls:sys_enter_read, tracepoint:syscalls:sys_enter_pread64 /comm == "bpftrace" || pid == ${controlProcess.pid}/ { @buf[tid] = (uint64)args->buf; }`,
          // Only reads that start like the canary (tok…) or come from the control: bpftrace reads far too much else for the ring.
          `tracepoint:syscalls:sys_exit_read, tracepoint:syscalls:sys_exit_pread64 /@buf[tid] != 0/ { if (args->ret > 0) { $s = str(uptr(@buf[tid])); if (pid == ${controlProcess.pid} || strncmp($s, "tok", 3) == 0) { printf("R %s\\n", $s); } } delete(@buf[tid]); }`,
        ].join("\n"),
        controlProcess.control,
        async () => {
          for (const program of targets()) {
            const started = await callAnyway(server, "exec_program", { program, timeout: 5 });
            results.push({ tool: "exec_program", program, result: started });
            seen.push((await outputOfStarted(server, started)).join("\n"));
            results.push({ tool: "validate_program", program, result: await callAnyway(server, "validate_program", { program }) });
          }
        },
      );
      seen.push(report.lines.join("\n"), ...results.map(({ result }) => everythingIn(result)));
      expect(report.sawControl, "the spy never printed the control string (is it tracing?)").toBe(true);
      expectNoSecret(report.lines.join("\n"), secret, "the spy on bpftrace's reads");
      for (const { tool, program, result } of results) {
        expectNoSecret(everythingIn(result), secret, `${tool} ${program}`);
        expectPolicyRefused(result, tool, `${tool} ${program}`);
        expect(textOf(result), `${tool} ${program}`).toContain(secretScript);
      }
    });
  });

  it("no result, trace output or server log line held the password or the canary", () => {
    expect(seen.length).toBeGreaterThan(8);
    seen.forEach((text, index) => {
      expect(text.includes(user.password), `result #${index} holds the sudo password`).toBe(false);
      expectNoSecret(text, secret, `result #${index}`);
    });
    expect(server.stderr().includes(user.password), "the server's stderr holds the sudo password").toBe(false);
    expectNoSecret(server.stderr(), secret, "the server's stderr");
  });
});

describeWithSudoUser("attack 4 (sudo): no bpftrace of a SIGKILLed server outlives timeout + attach wait + grace", () => {
  let user: SudoUser;

  beforeAll(() => {
    user = createSudoUser();
  });

  afterAll(() => {
    user?.remove();
  });

  for (const attack of DEADLINE_ATTACKS) {
    it(attack.name, async () => {
      const marker = newMarker("sudo-deadline");
      const outcome = await survivorsAfterServerKill(attack.program(marker), marker, { launcher: user.launcher, env: user.serverEnv });
      expectDeadlineHeld(attack, outcome);
    });
  }
});
