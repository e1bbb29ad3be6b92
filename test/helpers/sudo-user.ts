// A throwaway unprivileged user whose sudo runs the bpftrace under test with a random password,
// for running the built server the way an operator without root would (modelled on .ci/sudo-e2e.sh).
// Created as root; removed, with every process it still has, by remove().
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { describe } from "vitest";
import { realBpftrace } from "./real-bpftrace.js";

const NAME_PREFIX = "bpfmcp-sec-";
const COMMENT_PREFIX = "bpftrace-mcp-server test, pid ";

/** A user made for one test file. */
export interface SudoUser {
  name: string;
  uid: number;
  gid: number;
  /** The user's sudo password (in no argv, file or environment but the server's BPFTRACE_PASSWD). */
  password: string;
  home: string;
  /** The absolute bpftrace path the sudoers rule allows (and the server is given as BPFTRACE_PATH). */
  bpftracePath: string;
  /** startServer's launcher: runs node as this user (setpriv execs, so the server keeps the pid). */
  launcher: string[];
  /** Environment for a server run as this user: HOME, BPFTRACE_PATH, BPFTRACE_PASSWD. */
  serverEnv: Record<string, string>;
  /** Kills the user's processes (by pid), removes the user, its home, its sudoers rule and sudo's timestamps. */
  remove: () => void;
}

function run(command: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { encoding: "utf8", input, timeout: 30_000 });
  return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
}

function commandPath(name: string): string | null {
  const found = run("sh", ["-c", 'command -v "$1"', "sh", name]);
  return found.status === 0 ? found.stdout.trim() : null;
}

/** The bpftrace the tests run: BPFTRACE_PATH (a name looked up on PATH, or a path), else bpftrace on PATH. */
export function bpftraceUnderTest(): string | null {
  const configured = process.env.BPFTRACE_PATH || "bpftrace";
  if (configured.includes("/")) return isAbsolute(configured) ? configured : resolve(configured);
  return commandPath(configured);
}

/** Why a sudo user cannot be made here, or null when it can. */
export function sudoUserUnavailable(): string | null {
  if (process.geteuid?.() !== 0) return "creating a sudo user needs root (run as root, as CI does)";
  for (const tool of ["sudo", "useradd", "userdel", "chpasswd", "visudo", "setpriv"]) {
    if (!commandPath(tool)) return `${tool} is not installed (apt-get install sudo passwd util-linux)`;
  }
  if (!existsSync("/etc/sudoers.d")) return "/etc/sudoers.d does not exist";
  if (!bpftraceUnderTest()) return "bpftrace is not installed";
  return null;
}

function passwdEntries(): string[][] {
  return readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => line.split(":"));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function removeUser(name: string): void {
  const pids = run("pgrep", ["-u", name]).stdout.split("\n").filter((line) => /^\d+$/.test(line));
  for (const pid of pids) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  if (run("id", ["-u", name]).status === 0) {
    if (run("userdel", ["--remove", name]).status !== 0) run("userdel", ["--force", "--remove", name]);
  }
  if (run("getent", ["group", name]).status === 0) run("groupdel", [name]);
  rmSync(join("/etc/sudoers.d", name), { force: true });
  rmSync(join("/run/sudo/ts", name), { force: true, recursive: true });
  rmSync(join("/var/run/sudo/ts", name), { force: true, recursive: true });
}

/** Removes users an earlier, crashed test process made (their creator's pid is in the comment and no longer alive). */
function removeLeftovers(): void {
  for (const fields of passwdEntries()) {
    const [name, , , , comment] = fields;
    if (!name?.startsWith(NAME_PREFIX) || !comment?.startsWith(COMMENT_PREFIX)) continue;
    const creator = Number(comment.slice(COMMENT_PREFIX.length));
    if (Number.isInteger(creator) && !isAlive(creator)) removeUser(name);
  }
}

/**
 * Creates a user with a random password and a sudoers rule for the bpftrace under test only
 * (`timestamp_timeout=0`, so sudo asks, and reads the password, every time). Needs root.
 */
export function createSudoUser(options: { nopasswd?: boolean } = {}): SudoUser {
  const unavailable = sudoUserUnavailable();
  if (unavailable) throw new Error(unavailable);
  removeLeftovers();
  const bpftracePath = bpftraceUnderTest() as string;
  const name = `${NAME_PREFIX}${randomBytes(4).toString("hex")}`;
  const base = mkdtempSync(join(tmpdir(), "bpfmcp-sudo-user-"));
  chmodSync(base, 0o755);
  const home = join(base, "home");
  const password = `Pw${randomBytes(18).toString("base64url")}`;
  const remove = (): void => {
    removeUser(name);
    rmSync(base, { recursive: true, force: true });
  };
  try {
    const added = run("useradd", ["--home-dir", home, "--create-home", "--shell", "/bin/sh", "--comment", `${COMMENT_PREFIX}${process.pid}`, name]);
    if (added.status !== 0) throw new Error(`useradd failed: ${added.stderr.trim()}`);
    // On stdin, so the password is in no argv.
    const changed = run("chpasswd", [], `${name}:${password}\n`);
    if (changed.status !== 0) throw new Error(`chpasswd failed: ${changed.stderr.trim()}`);
    const rule = [`Defaults:${name} timestamp_timeout=0, !lecture`, `${name} ALL=(root) ${options.nopasswd ? "NOPASSWD: " : ""}${bpftracePath}`, ""].join("\n");
    const draft = join(base, "sudoers.draft");
    writeFileSync(draft, rule, { mode: 0o440 });
    const checked = run("visudo", ["-cqf", draft]);
    if (checked.status !== 0) throw new Error(`visudo rejected ${JSON.stringify(rule)}: ${checked.stdout}${checked.stderr}`);
    const installed = run("install", ["-m", "0440", "-o", "root", "-g", "root", draft, join("/etc/sudoers.d", name)]);
    rmSync(draft, { force: true });
    if (installed.status !== 0) throw new Error(`installing the sudoers rule failed: ${installed.stderr.trim()}`);
    const uid = Number(run("id", ["-u", name]).stdout.trim());
    const gid = Number(run("id", ["-g", name]).stdout.trim());
    return {
      name,
      uid,
      gid,
      password,
      home,
      bpftracePath,
      launcher: ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--init-groups", "--"],
      serverEnv: { HOME: home, BPFTRACE_PATH: bpftracePath, BPFTRACE_PASSWD: password },
      remove,
    };
  } catch (error) {
    remove();
    throw error;
  }
}

/**
 * describe() for tests that run the server as a sudo user against the real bpftrace: skipped with
 * the reason when either is unavailable, failed in CI (CI=true), where both are required.
 */
export function describeWithSudoUser(name: string, body: () => void): void {
  const real = realBpftrace();
  const reason = real.available ? sudoUserUnavailable() : real.reason;
  if (reason === null) {
    describe(name, body);
    return;
  }
  if (process.env.CI) {
    describe(name, () => {
      throw new Error(`a sudo user and the real bpftrace are required in CI: ${reason}`);
    });
    return;
  }
  describe.skip(`${name} (skipped: ${reason})`, body);
}
