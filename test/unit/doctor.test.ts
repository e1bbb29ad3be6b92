import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ReadyHost, RunResult } from "../../src/bpftrace/host.js";
import { parseVersion, versionTraits } from "../../src/bpftrace/version.js";
import { loadConfig } from "../../src/config.js";
import { collectDoctorReport, type DoctorCheck, type DoctorReport } from "../../src/doctor/index.js";
import { checkBpftrace, probeCountsCheck, TRACE_TEST_PROGRAM, type DoctorHost } from "../../src/doctor/checks-bpftrace.js";
import { checkClients, findClientEntries, runsThisServer } from "../../src/doctor/checks-clients.js";
import { checkInstall } from "../../src/doctor/checks-install.js";
import { activeLockdown, checkKernel, KernelFiles, mountPoints } from "../../src/doctor/checks-kernel.js";
import { checkAuditLog, checkEnvFile } from "../../src/doctor/checks-settings.js";
import { canTraceFrom, renderReport, verdict } from "../../src/doctor/report.js";
import { BpftraceMcpError } from "../../src/errors.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/bpftrace-output/", import.meta.url));

let scratch: string;
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), "doctor-unit-"));
});
afterEach(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function writeFile(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

function byId(checks: readonly DoctorCheck[], id: string): DoctorCheck {
  const found = checks.find((item) => item.id === id);
  if (!found) throw new Error(`no check ${id} in ${checks.map((item) => item.id).join(", ")}`);
  return found;
}

const NPX_ENTRY = { command: "npx", args: ["-y", "bpftrace-mcp-server"] };
const OTHER_ENTRY = { command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"] };

describe("MCP client detection", () => {
  it("finds a Claude Desktop entry under XDG_CONFIG_HOME and ignores other servers", () => {
    const home = join(scratch, "home");
    const configHome = join(scratch, "xdg");
    const file = writeFile(join(configHome, "Claude", "claude_desktop_config.json"), JSON.stringify({ mcpServers: { bpftrace: NPX_ENTRY, files: OTHER_ENTRY } }));
    const scan = findClientEntries({ home, cwd: join(scratch, "project"), xdgConfigHome: configHome });
    expect(scan.entries).toEqual([{ client: "Claude Desktop", scope: "Linux", file, name: "bpftrace" }]);
    expect(scan.problems).toEqual([]);
  });

  it("finds the macOS Claude Desktop config and the ~/.config default", () => {
    const home = join(scratch, "home");
    writeFile(join(home, "Library", "Application Support", "Claude", "claude_desktop_config.json"), JSON.stringify({ mcpServers: { mac: NPX_ENTRY } }));
    writeFile(join(home, ".config", "Claude", "claude_desktop_config.json"), JSON.stringify({ mcpServers: { linux: NPX_ENTRY } }));
    const scan = findClientEntries({ home, cwd: home });
    expect(scan.entries.map((entry) => `${entry.client}/${entry.scope}/${entry.name}`)).toEqual(["Claude Desktop/macOS/mac", "Claude Desktop/Linux/linux"]);
  });

  it("finds Claude Code entries in user scope, local scope (a local build) and project scope", () => {
    const home = join(scratch, "home");
    const project = join(scratch, "project");
    const checkout = join(scratch, "checkout");
    writeFile(join(checkout, "package.json"), JSON.stringify({ name: "bpftrace-mcp-server", version: "0.1.0" }));
    const localBuild = { command: "node", args: [join(checkout, "dist", "index.js"), "--env", "/etc/bpftrace.env"] };
    const claudeJson = writeFile(
      join(home, ".claude.json"),
      JSON.stringify({
        numStartups: 3,
        mcpServers: { trace: { type: "stdio", command: "bpftrace-mcp-server", args: [] } },
        projects: { [project]: { mcpServers: { "trace-local": localBuild } }, "/elsewhere": { mcpServers: { files: OTHER_ENTRY } }, "/broken": "not an object" },
      }),
    );
    const projectJson = writeFile(join(project, ".mcp.json"), JSON.stringify({ mcpServers: { shared: NPX_ENTRY } }));
    const scan = findClientEntries({ home, cwd: project });
    expect(scan.entries).toEqual([
      { client: "Claude Code", scope: "user scope", file: claudeJson, name: "trace" },
      { client: "Claude Code", scope: `local scope, project ${project}`, file: claudeJson, name: "trace-local" },
      { client: "Claude Code", scope: "project scope", file: projectJson, name: "shared" },
    ]);
    const reported = checkClients(scan);
    expect(reported.status).toBe("info");
    expect(reported.detail).toContain(`Claude Code (local scope, project ${project}): "trace-local"`);
    expect(reported.fix).toBeNull();
  });

  it("finds Cursor and VS Code entries (VS Code keeps them under 'servers')", () => {
    const home = join(scratch, "home");
    const project = join(scratch, "project");
    writeFile(join(home, ".cursor", "mcp.json"), JSON.stringify({ mcpServers: { bpf: NPX_ENTRY } }));
    writeFile(join(project, ".vscode", "mcp.json"), JSON.stringify({ servers: { bpf: { type: "stdio", ...NPX_ENTRY } }, mcpServers: { ignored: NPX_ENTRY } }));
    const scan = findClientEntries({ home, cwd: project });
    expect(scan.entries.map((entry) => `${entry.client}/${entry.name}`)).toEqual(["Cursor/bpf", "VS Code/bpf"]);
  });

  it("says none is configured and points to the bundle and the setup command", () => {
    const scan = findClientEntries({ home: join(scratch, "empty-home"), cwd: join(scratch, "empty-project") });
    expect(scan.entries).toEqual([]);
    expect(scan.looked.length).toBeGreaterThanOrEqual(6);
    const reported = checkClients(scan);
    expect(reported).toMatchObject({ id: "mcp-clients", status: "info" });
    expect(reported.detail).toMatch(/no client is configured to run bpftrace-mcp-server/);
    expect(reported.fix).toContain("MCP Bundle");
    expect(reported.fix).toContain("npx -y bpftrace-mcp-server setup claude-desktop");
    expect(reported.fix).toContain("setup claude-code|vscode|cursor");
  });

  it("reads VS Code and Cursor files as JSONC, finds VS Code's user profile file, and Claude Desktop's installed bundle", () => {
    const home = join(scratch, "home");
    const project = join(scratch, "project");
    writeFile(join(home, ".cursor", "mcp.json"), `{\n  // mine\n  "mcpServers": { "bpf": ${JSON.stringify(NPX_ENTRY)}, },\n}`);
    const profile = writeFile(join(home, ".config", "Code", "User", "mcp.json"), JSON.stringify({ servers: { trace: { type: "stdio", ...NPX_ENTRY } } }));
    const manifest = writeFile(join(home, ".config", "Claude", "Claude Extensions", "local.mcpb.bpftrace", "manifest.json"), JSON.stringify({ name: "bpftrace-mcp-server", version: "0.1.0" }));
    writeFile(join(home, ".config", "Claude", "Claude Extensions", "other", "manifest.json"), JSON.stringify({ name: "filesystem" }));
    const scan = findClientEntries({ home, cwd: project });
    expect(scan.problems).toEqual([]);
    expect(scan.entries).toEqual([
      { client: "Cursor", scope: "global", file: join(home, ".cursor", "mcp.json"), name: "bpf" },
      { client: "VS Code", scope: "user profile, Linux", file: profile, name: "trace" },
      { client: "Claude Desktop", scope: "MCP Bundle 0.1.0", file: manifest, name: "local.mcpb.bpftrace" },
    ]);
  });

  it("warns about a config file that is not valid JSON", () => {
    const home = join(scratch, "home");
    const broken = writeFile(join(home, ".claude.json"), "{ not json");
    const reported = checkClients(findClientEntries({ home, cwd: home }));
    expect(reported.status).toBe("warn");
    expect(reported.detail).toContain(`${broken}: not valid JSON`);
  });

  it("says how the server is installed: an MCP Bundle, a checkout, or the npm package", () => {
    const bundle = join(scratch, "Claude Extensions", "local.mcpb.bpftrace");
    writeFile(join(bundle, "manifest.json"), JSON.stringify({ manifest_version: "0.4", name: "bpftrace-mcp-server", version: "0.1.0" }));
    const fromBundle = checkInstall(bundle);
    expect(fromBundle).toMatchObject({ id: "install", status: "info" });
    expect(fromBundle.detail).toMatch(/^an MCP Bundle \(manifest 0\.4, version 0\.1\.0\) at /);
    expect(fromBundle.detail).toContain("extension's settings");
    const checkout = join(scratch, "checkout");
    writeFile(join(checkout, "manifest.json"), JSON.stringify({ name: "bpftrace-mcp-server" }));
    writeFile(join(checkout, "src", "index.ts"), "");
    expect(checkInstall(checkout).detail).toMatch(/^a checkout at /);
    expect(checkInstall(join(scratch, "node_modules", "_npx", "abc", "node_modules", "bpftrace-mcp-server")).detail).toMatch(/^the npm package bpftrace-mcp-server .* in npx's cache/);
  });

  it("does not count entries that merely mention bpftrace", () => {
    expect(runsThisServer({ command: "bpftrace", args: ["-e", "BEGIN {}"] })).toBe(false);
    expect(runsThisServer({ command: "node", args: ["/nonexistent/other-server/dist/index.js"] })).toBe(false);
    expect(runsThisServer({ url: "http://localhost:3000/bpftrace-mcp-server" })).toBe(false);
    expect(runsThisServer({ command: "wsl.exe", args: ["-d", "Ubuntu", "--", "npx", "-y", "bpftrace-mcp-server"] })).toBe(true);
  });
});

/** Builds a fake machine below `root` from a few kernel files. */
function fakeRoot(root: string, files: Record<string, string>): KernelFiles {
  for (const [path, text] of Object.entries(files)) writeFile(join(root, path), text);
  return new KernelFiles(root);
}

const HEALTHY_MOUNTS = [
  "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0",
  "debugfs /sys/kernel/debug debugfs rw,nosuid,nodev,noexec,relatime 0 0",
  "tracefs /sys/kernel/tracing tracefs rw,nosuid,nodev,noexec,relatime 0 0",
].join("\n");

describe("kernel checks", () => {
  it("reports a healthy kernel", () => {
    const files = fakeRoot(scratch, {
      "proc/mounts": HEALTHY_MOUNTS,
      "sys/kernel/btf/vmlinux": "x".repeat(2048),
      "sys/kernel/security/lockdown": "[none] integrity confidentiality\n",
      "proc/sys/kernel/unprivileged_bpf_disabled": "2\n",
      "proc/sys/kernel/perf_event_paranoid": "4\n",
    });
    const checks = checkKernel(files);
    expect(checks.map((item) => `${item.id}:${item.status}`)).toEqual([
      "tracefs:ok",
      "debugfs:ok",
      "btf:ok",
      "self-exclusion:info",
      "lockdown:ok",
      "unprivileged-bpf:info",
      "perf-event-paranoid:info",
    ]);
    expect(byId(checks, "tracefs").detail).toBe("mounted at /sys/kernel/tracing");
    expect(byId(checks, "unprivileged-bpf").detail).toMatch(/^2: .*root or through sudo/);
    expect(byId(checks, "perf-event-paranoid").detail).toMatch(/^4: users may not open any perf event.*root is not restricted/);
  });

  it("fails tracefs with the mount command and fails BTF (the self-exclusion filter needs it), and warns about debugfs on a bare machine", () => {
    const checks = checkKernel(fakeRoot(scratch, { "proc/mounts": "sysfs /sys sysfs rw 0 0\n" }));
    expect(byId(checks, "tracefs")).toMatchObject({ status: "fail", fix: expect.stringContaining("mount -t tracefs nodev /sys/kernel/tracing") });
    expect(byId(checks, "debugfs")).toMatchObject({ status: "warn", fix: expect.stringContaining("mount -t debugfs nodev /sys/kernel/debug") });
    expect(byId(checks, "btf")).toMatchObject({ status: "fail", detail: expect.stringContaining("hides the server's own processes") });
    expect(byId(checks, "lockdown")).toMatchObject({ status: "info", detail: expect.stringContaining("unknown") });
    expect(byId(checks, "unprivileged-bpf").status).toBe("info");
  });

  it("chooses the cgroup filter where a cgroup v2 directory of the process is writable, and then only warns about missing BTF", () => {
    const files = fakeRoot(scratch, {
      "proc/mounts": HEALTHY_MOUNTS,
      "proc/self/mountinfo": "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n",
      "proc/self/cgroup": "0::/system.slice/mcp.service\n",
      "sys/fs/cgroup/system.slice/mcp.service/cgroup.procs": "",
    });
    const checks = checkKernel(files);
    expect(byId(checks, "self-exclusion")).toMatchObject({ status: "ok", detail: expect.stringContaining("/sys/fs/cgroup/system.slice/mcp.service") });
    expect(byId(checks, "btf")).toMatchObject({ status: "warn", detail: expect.stringContaining("describe_struct") });
    const off = checkKernel(files, "off");
    expect(byId(off, "self-exclusion")).toMatchObject({ status: "info", detail: expect.stringContaining("BPFTRACE_MCP_OWN_CGROUP=off") });
    expect(byId(off, "btf").status).toBe("fail");
  });

  it("finds tracefs by its events directory when /proc/mounts does not list it", () => {
    const checks = checkKernel(fakeRoot(scratch, { "proc/mounts": HEALTHY_MOUNTS.split("\n").slice(0, 2).join("\n"), "sys/kernel/debug/tracing/events/README": "" }));
    expect(byId(checks, "tracefs")).toMatchObject({ status: "ok", detail: "available at /sys/kernel/debug/tracing" });
  });

  it("warns on integrity lockdown and fails on confidentiality lockdown", () => {
    const integrity = checkKernel(fakeRoot(join(scratch, "a"), { "sys/kernel/security/lockdown": "none [integrity] confidentiality\n" }));
    expect(byId(integrity, "lockdown")).toMatchObject({ status: "warn", fix: expect.stringContaining("lockdown=none") });
    const confidentiality = checkKernel(fakeRoot(join(scratch, "b"), { "sys/kernel/security/lockdown": "none integrity [confidentiality]\n" }));
    expect(byId(confidentiality, "lockdown")).toMatchObject({ status: "fail", detail: expect.stringContaining("reading kernel memory") });
  });

  it("parses /proc/mounts and the lockdown file", () => {
    expect(mountPoints("tracefs /mnt/my\\040tracing tracefs rw 0 0\n", "tracefs")).toEqual(["/mnt/my tracing"]);
    expect(mountPoints(null, "tracefs")).toBeNull();
    expect(activeLockdown("[none] integrity confidentiality")).toBe("none");
    expect(activeLockdown("none integrity confidentiality")).toBeNull();
  });
});

describe("probe counts", () => {
  it("counts the recorded 0.17 listing by type and warns that kprobes are missing", () => {
    const listing = readFileSync(join(FIXTURES, "0.17.0", "list.txt"), "utf8");
    const reported = probeCountsCheck(listing, listing);
    expect(reported.status).toBe("warn");
    expect(reported.detail).toMatch(/^tracepoint 2305, iter 2, hardware 1, software 1, kprobe 0: tracepoints only; kprobe-based examples are skipped/);
    expect(reported.detail).toContain("bpftrace said: WARNING: Could not read symbols");
  });

  it("is information only when kprobes are listed", () => {
    const listing = readFileSync(join(FIXTURES, "0.24.1", "list.txt"), "utf8");
    const reported = probeCountsCheck(listing, "");
    expect(reported.status).toBe("info");
    expect(reported.detail).toContain("kprobe 4");
  });
});

/** A host whose readiness and runs are scripted. */
function fakeHost(script: { ready?: ReadyHost; fails?: BpftraceMcpError; runs?: (args: readonly string[]) => RunResult }): DoctorHost & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    privilegeMode: () => script.ready?.mode ?? "sudo-password",
    ensureReady: async () => {
      if (script.fails) throw script.fails;
      if (!script.ready) throw new Error("fake host has no readiness");
      return script.ready;
    },
    run: async (args) => {
      calls.push([...args]);
      return script.runs?.(args) ?? { exitCode: 0, stdout: "", stderr: "", timedOut: false };
    },
  };
}

function readyAs(mode: ReadyHost["mode"], versionText = "0.17.0"): ReadyHost {
  const version = parseVersion(`bpftrace v${versionText}`);
  return { mode, bpftraceFile: "/usr/bin/bpftrace", version, traits: versionTraits(version), user: mode === "root" ? "root" : "alice", niceFile: null, timeoutFile: null };
}

const healthyRuns = (args: readonly string[]): RunResult =>
  args[0] === "-e" ? { exitCode: 0, stdout: "Attaching 1 probe...\ndoctor-ok\n", stderr: "", timedOut: false } : { exitCode: 0, stdout: "tracepoint:a:b\nkprobe:vfs_read\n", stderr: "", timedOut: false };

describe("bpftrace checks", () => {
  const deps = { bpftracePath: "bpftrace", passwordSet: false, resolveBpftrace: () => "/usr/bin/bpftrace", readVersionUnprivileged: async () => parseVersion("bpftrace v0.17.0") };

  it("passes when bpftrace is ready and the BEGIN probe prints its marker", async () => {
    const host = fakeHost({ ready: readyAs("sudo-nopasswd"), runs: healthyRuns });
    const checks = await checkBpftrace({ ...deps, host });
    expect(checks.map((item) => `${item.id}:${item.status}`)).toEqual(["bpftrace:ok", "privileges:ok", "trace-test:ok", "probes:info"]);
    expect(byId(checks, "bpftrace").detail).toBe("/usr/bin/bpftrace v0.17.0 (known to work)");
    expect(byId(checks, "privileges").detail).toBe("passwordless sudo works for user alice");
    expect(host.calls).toEqual([["-e", TRACE_TEST_PROGRAM], ["-l"]]);
    expect(canTraceFrom(checks)).toBe(true);
  });

  it("warns about a bpftrace older than 0.16", async () => {
    const checks = await checkBpftrace({ ...deps, host: fakeHost({ ready: readyAs("root", "0.12.1"), runs: healthyRuns }) });
    expect(byId(checks, "bpftrace")).toMatchObject({ status: "warn", detail: expect.stringContaining("v0.12.1 (older than 0.16") });
  });

  it("fails the trace test when the marker does not come back, with bpftrace's error", async () => {
    const host = fakeHost({ ready: readyAs("root"), runs: (args) => (args[0] === "-e" ? { exitCode: 1, stdout: "", stderr: "ERROR: Could not load program\n", timedOut: false } : healthyRuns(args)) });
    const checks = await checkBpftrace({ ...deps, host });
    expect(byId(checks, "trace-test")).toMatchObject({ status: "fail", detail: expect.stringContaining("ERROR: Could not load program") });
    expect(canTraceFrom(checks)).toBe(false);
  });

  it("reports bpftrace missing with the install command and runs nothing else", async () => {
    const missing = new BpftraceMcpError("BPFTRACE_NOT_FOUND", "bpftrace was not found (BPFTRACE_PATH=/nonexistent/bpftrace).");
    const host = fakeHost({ fails: missing });
    const checks = await checkBpftrace({ ...deps, bpftracePath: "/nonexistent/bpftrace", host });
    expect(byId(checks, "bpftrace")).toMatchObject({ status: "fail", detail: "bpftrace not found (BPFTRACE_PATH=/nonexistent/bpftrace)", fix: expect.stringContaining("apt-get install bpftrace") });
    expect(checks.slice(1).map((item) => item.status)).toEqual(["info", "info", "info"]);
    expect(host.calls).toEqual([]);
  });

  it("reports a rejected password without printing it, and still shows the version", async () => {
    const config = loadConfig({ BPFTRACE_PASSWD: "correct-horse-battery", BPFTRACE_MCP_AUDIT_LOG: "off" });
    const rejected = new BpftraceMcpError("SUDO_REJECTED", "sudo rejected BPFTRACE_PASSWD for user alice.", { hint: "Correct BPFTRACE_PASSWD in the .env file and restart the server." });
    const report = await collectDoctorReport(config, { host: fakeHost({ fails: rejected }), home: scratch, cwd: scratch, rootDir: scratch, env: { PATH: "/usr/bin:/bin" } });
    expect(report.canTrace).toBe(false);
    expect(byId(report.checks, "privileges")).toEqual({
      id: "privileges",
      title: "privileges",
      status: "fail",
      detail: "sudo rejected BPFTRACE_PASSWD for user alice",
      fix: "Correct BPFTRACE_PASSWD in the .env file and restart the server.",
    });
    expect(JSON.stringify(report)).not.toContain("correct-horse-battery");
    expect(renderReport(report, "doctor")).not.toContain("correct-horse-battery");
  });
});

describe("settings checks", () => {
  it("checks that the audit log can be written without creating it", () => {
    expect(checkAuditLog(null)).toMatchObject({ status: "info", detail: expect.stringContaining("off") });
    const fresh = join(scratch, "state", "bpftrace-mcp-server", "audit.jsonl");
    expect(checkAuditLog(fresh)).toMatchObject({ status: "ok", detail: `${fresh} (will be created on the first run)` });
    const blocker = writeFile(join(scratch, "a-file"), "");
    expect(checkAuditLog(join(blocker, "audit.jsonl"))).toMatchObject({ status: "warn", fix: expect.stringContaining("BPFTRACE_MCP_AUDIT_LOG") });
  });

  it("names the .env file used and warns when it exposes the password", () => {
    const cwd = join(scratch, "project");
    const env = { HOME: join(scratch, "home") };
    expect(checkEnvFile({ explicit: undefined, env, cwd })).toMatchObject({ status: "info", detail: expect.stringMatching(/^none found/) });
    const envPath = writeFile(join(cwd, ".env"), "BPFTRACE_PASSWD=secret\n");
    chmodSync(envPath, 0o644);
    expect(checkEnvFile({ explicit: undefined, env, cwd })).toMatchObject({ status: "warn", fix: `chmod 600 ${envPath}` });
    chmodSync(envPath, 0o600);
    expect(checkEnvFile({ explicit: undefined, env, cwd })).toMatchObject({ status: "info", detail: expect.stringContaining(envPath) });
    const explicit = writeFile(join(scratch, "elsewhere.env"), "LOG_LEVEL=debug\n");
    expect(checkEnvFile({ explicit, env, cwd }).detail).toBe(explicit);
  });
});

describe("report rendering", () => {
  const report: DoctorReport = {
    canTrace: false,
    checks: [
      { id: "bpftrace", title: "bpftrace", status: "ok", detail: "/usr/bin/bpftrace v0.17.0 (known to work)", fix: null },
      { id: "privileges", title: "privileges", status: "fail", detail: "sudo rejected BPFTRACE_PASSWD for user alice", fix: "Correct BPFTRACE_PASSWD.\nThen restart." },
      { id: "btf", title: "BTF", status: "warn", detail: "missing\nsecond line", fix: "use a BTF kernel" },
    ],
  };

  it("prints one line per check, fixes indented below, then the verdict", () => {
    expect(renderReport(report, "bpftrace-mcp-server doctor").split("\n")).toEqual([
      "bpftrace-mcp-server doctor",
      "",
      "[ok]   bpftrace    /usr/bin/bpftrace v0.17.0 (known to work)",
      "[FAIL] privileges  sudo rejected BPFTRACE_PASSWD for user alice",
      "       fix: Correct BPFTRACE_PASSWD.",
      "            Then restart.",
      "[warn] BTF         missing",
      "                   second line",
      "       fix: use a BTF kernel",
      "",
      "Verdict: CANNOT TRACE. Fix the [FAIL] lines above (privileges), then run doctor again.",
      "",
    ]);
  });

  it("says ready, and lists what still deserves a look", () => {
    expect(verdict({ ...report, canTrace: true })).toBe("Verdict: ready to trace. Still worth a look (failed: privileges; warnings: BTF).");
    expect(verdict({ canTrace: true, checks: [] })).toBe("Verdict: ready to trace.");
  });
});

describe("checkWatchdog", () => {
  it("is ok with timeout(1), and warns without it that only the in-program guard is left", async () => {
    const { checkWatchdog } = await import("../../src/doctor/checks-settings.js");
    expect(checkWatchdog("/usr/bin/timeout")).toMatchObject({ status: "ok", detail: expect.stringContaining("/usr/bin/timeout") });
    expect(checkWatchdog(null)).toMatchObject({ status: "warn", detail: expect.stringContaining("deadline guard"), fix: expect.stringContaining("coreutils") });
  });
});
