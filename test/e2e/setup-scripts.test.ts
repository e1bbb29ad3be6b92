import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

// setup/setup_claude.sh and setup/setup_claude_code.sh stay at the original project's paths as thin
// wrappers around `bpftrace-mcp-server setup`; what the command does is tested in setup-command.test.ts.
const repoDir = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const desktopScript = join(repoDir, "setup", "setup_claude.sh");
const codeScript = join(repoDir, "setup", "setup_claude_code.sh");
const nodeDir = dirname(process.execPath);
const npxEntry = { command: "npx", args: ["-y", "bpftrace-mcp-server"], env: {} };

let sandbox: string;
let home: string;

beforeEach(() => {
  sandbox = realpathSync(mkdtempSync(join(tmpdir(), "setup-scripts-")));
  home = join(sandbox, "home");
  mkdirSync(home);
});

afterEach(() => {
  rmSync(sandbox, { recursive: true, force: true });
});

/** Runs a wrapper with a pipe (not a terminal) on stdin, no `claude` on PATH, and only the environment given. */
function runScript(script: string, args: string[], cwd = sandbox): SpawnSyncReturns<string> {
  return spawnSync(script, args, { cwd, env: { HOME: home, PATH: `${nodeDir}:/usr/bin:/bin` }, input: "", encoding: "utf8", timeout: 30_000 });
}

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, "utf8"));

describe("setup_claude.sh (Claude Desktop)", () => {
  const config = () => join(sandbox, "claude_desktop_config.json");

  it("runs setup claude-desktop: writes the default file, then finds nothing to do", () => {
    const first = runScript(desktopScript, []);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    const file = join(home, ".config", "Claude", "claude_desktop_config.json");
    expect(readJson(file)).toEqual({ mcpServers: { bpftrace: npxEntry } });
    const second = runScript(desktopScript, ["--yes"]);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain("nothing to do");
  });

  it("passes --env-file on as --env (absolute), and --name, --config, --dry-run and --uninstall as they are", () => {
    const envFile = join(sandbox, "bpftrace.env");
    writeFileSync(envFile, "BPFTRACE_PASSWD=secret\n", { mode: 0o600 });
    const dry = runScript(desktopScript, ["--config", config(), "--env-file", "bpftrace.env", "--dry-run"]);
    expect(dry.status).toBe(0);
    expect(existsSync(config())).toBe(false);
    expect(runScript(desktopScript, ["-y", "--config", config(), `--env-file=${envFile}`, "--name", "tracing"]).status).toBe(0);
    expect(readJson(config())).toEqual({ mcpServers: { tracing: { ...npxEntry, args: [...npxEntry.args, "--env", envFile] } } });
    expect(runScript(desktopScript, ["--config", config(), "--name", "tracing", "--uninstall"]).status).toBe(0);
    expect(readJson(config())).toEqual({ mcpServers: {} });
    expect(readdirSync(sandbox).filter((name) => name.includes(".bak-"))).toHaveLength(1);
  });

  it("refuses invalid JSON untouched (exit 1), and an option it does not know (exit 2)", () => {
    const broken = '{\n  "mcpServers": {\n    "fs": { "command": "npx" },\n  }\n}\n';
    writeFileSync(config(), broken);
    const refused = runScript(desktopScript, ["--config", config()]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("line 4, column 3");
    expect(readFileSync(config(), "utf8")).toBe(broken);
    expect(runScript(desktopScript, ["--frobnicate"]).status).toBe(2);
    expect(runScript(desktopScript, ["--env-file"]).status).toBe(2);
  });
});

describe("setup_claude_code.sh (Claude Code)", () => {
  it("passes --scope and --env-file on; with no claude on PATH it writes the scope's file itself", () => {
    const project = join(sandbox, "project");
    mkdirSync(project);
    const envFile = join(sandbox, "bpftrace.env");
    writeFileSync(envFile, "", { mode: 0o600 });
    expect(runScript(codeScript, ["--scope", "project", "--env-file", envFile, "--yes"], project).status).toBe(0);
    expect(readJson(join(project, ".mcp.json"))).toEqual({ mcpServers: { bpftrace: { type: "stdio", ...npxEntry, args: [...npxEntry.args, "--env", envFile] } } });
    expect(runScript(codeScript, ["--scope", "user"], project).status).toBe(0);
    expect(readJson(join(home, ".claude.json"))).toEqual({ mcpServers: { bpftrace: { type: "stdio", ...npxEntry } } });
    expect(runScript(codeScript, ["--scope", "global"], project).status).toBe(2);
  });
});

describe("setup scripts, as files", () => {
  it.each([desktopScript, codeScript])("%s says how to build when dist/index.js is missing", (script) => {
    const fakeRepo = join(sandbox, "repo");
    mkdirSync(join(fakeRepo, "setup"), { recursive: true });
    const copy = join(fakeRepo, "setup", script.split("/").pop() ?? "script.sh");
    copyFileSync(script, copy);
    chmodSync(copy, 0o755);
    const result = runScript(copy, []);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("npm run build");
    expect(readdirSync(home)).toEqual([]);
  });

  it("--help shows the setup command's options", () => {
    const help = runScript(codeScript, ["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("--scope SCOPE");
  });

  it("pass shellcheck (skipped when shellcheck is not installed; required in CI)", (context) => {
    if (spawnSync("shellcheck", ["--version"]).status !== 0) {
      if (process.env.CI) throw new Error("shellcheck is not installed; CI must install it (apt-get install -y shellcheck)");
      context.skip("shellcheck is not installed (apt-get install -y shellcheck)");
    }
    const result = spawnSync("shellcheck", [desktopScript, codeScript], { encoding: "utf8" });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("are short executable bash scripts in strict mode that hand over to the command", () => {
    for (const script of [desktopScript, codeScript]) {
      expect(statSync(script).mode & 0o111).toBe(0o111);
      const text = readFileSync(script, "utf8");
      expect(text).toMatch(/^#!\/usr\/bin\/env bash\n(#.*\n)*set -euo pipefail\n/);
      expect(text).toMatch(/^exec node "\$ENTRY" setup "\$CLIENT"/m);
      expect(text.split("\n").length).toBeLessThan(40);
    }
  });
});
