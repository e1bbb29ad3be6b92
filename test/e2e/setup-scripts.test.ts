import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const repoDir = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const desktopScript = join(repoDir, "setup", "setup_claude.sh");
const codeScript = join(repoDir, "setup", "setup_claude_code.sh");
const nodeDir = dirname(process.execPath);
const npxEntry = { command: "npx", args: ["-y", "bpftrace-mcp-server"], env: {} };

// Stands in for Claude Code's CLI: logs its argv as a JSON line and keeps servers per scope in a
// state file, with the exit codes and messages `claude` 2.1.332 gave for add, get and remove.
const FAKE_CLAUDE = `#!/usr/bin/env node
const fs = require("node:fs");
const argv = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_CLAUDE_LOG, JSON.stringify(argv) + "\\n");
const statePath = process.env.FAKE_CLAUDE_STATE;
const state = fs.existsSync(statePath) ? JSON.parse(fs.readFileSync(statePath, "utf8")) : {};
const save = () => fs.writeFileSync(statePath, JSON.stringify(state));
const out = (text, code) => { (code ? process.stderr : process.stdout).write(text + "\\n"); process.exit(code); };
const labels = { local: "Local config (private to you in this project)", user: "User config (available in all your projects)", project: "Project config (shared via .mcp.json)" };
const where = (scope, noun) => (scope === "project" ? ".mcp.json" : scope + " " + noun);
if (argv[0] !== "mcp") out("fake claude: only 'mcp' is emulated", 2);
const [, verb, ...rest] = argv;
let scope = null;
const positional = [];
while (rest.length > 0) {
  const word = rest.shift();
  if (word === "--") break;
  if (word === "--scope" || word === "-s") scope = rest.shift();
  else positional.push(word);
}
const name = positional[0];
if (verb === "get") {
  const found = ["local", "user", "project"].find((s) => state[s] && state[s][name]);
  if (!found) out('No MCP server named "' + name + '". Run \`claude mcp add\` to add one.', 1);
  const entry = state[found][name];
  const env = Object.entries(entry.env || {}).map(([k, v]) => "    " + k + "=" + v).join("\\n");
  out([name + ":", "  Scope: " + labels[found], "  Status: ✔ Connected", "  Type: stdio", "  Command: " + entry.command,
    "  Args: " + entry.args.join(" "), "  Environment:", ...(env ? [env] : []), "",
    "To remove this server, run: claude mcp remove " + name + " -s " + found].join("\\n"), 0);
}
if (verb === "add") {
  scope = scope || "local";
  if (positional.length !== 1 || rest.length === 0) out("fake claude: expected add [--scope S] NAME -- COMMAND [ARGS...]", 2);
  state[scope] = state[scope] || {};
  if (state[scope][name]) out("MCP server " + name + " already exists in " + where(scope, "config"), 1);
  state[scope][name] = { command: rest[0], args: rest.slice(1), env: {} };
  save();
  out("Added stdio MCP server " + name + " with command: " + rest.join(" ") + " to " + scope + " config", 0);
}
if (verb === "remove") {
  if (!scope) out("fake claude: the scripts must always pass --scope to remove", 2);
  if (!(state[scope] && state[scope][name])) out('No MCP server named "' + name + '" in ' + where(scope, "scope"), 1);
  delete state[scope][name];
  save();
  out("Removed MCP server " + name + " from " + scope + " config", 0);
}
out("fake claude: unexpected " + argv.join(" "), 2);
`;

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

/** Runs a script with a pipe (not a terminal) on stdin and only the environment given. */
function runScript(script: string, args: string[], env: Record<string, string>, cwd = sandbox): SpawnSyncReturns<string> {
  return spawnSync(script, args, { cwd, env: { HOME: home, ...env }, input: "", encoding: "utf8", timeout: 30_000 });
}

/** A copy of a script inside a fake checkout, so --mode local can find (or miss) dist/index.js. */
function scriptInFakeRepo(script: string, withBuild: boolean): { script: string; entry: string } {
  const fakeRepo = join(sandbox, "repo");
  mkdirSync(join(fakeRepo, "setup"), { recursive: true });
  mkdirSync(join(fakeRepo, "dist"), { recursive: true });
  if (withBuild) writeFileSync(join(fakeRepo, "dist", "index.js"), "");
  const copy = join(fakeRepo, "setup", script.split("/").pop() ?? "script.sh");
  copyFileSync(script, copy);
  chmodSync(copy, 0o755);
  return { script: copy, entry: join(fakeRepo, "dist", "index.js") };
}

function writeEnvFile(mode: number): string {
  const envFile = join(sandbox, "bpftrace.env");
  writeFileSync(envFile, "BPFTRACE_PASSWD=secret\n");
  chmodSync(envFile, mode);
  return envFile;
}

describe("setup_claude.sh (Claude Desktop)", () => {
  const basePath = `${nodeDir}:/usr/bin:/bin`;
  const desktop = (args: string[], env: Record<string, string> = {}) => runScript(desktopScript, args, { PATH: basePath, ...env });
  const readJson = (path: string): unknown => JSON.parse(readFileSync(path, "utf8"));
  const configIn = () => join(sandbox, "claude_desktop_config.json");
  const backupsOf = (path: string) => readdirSync(dirname(path)).filter((name) => name.startsWith(`${path.split("/").pop()}.bak-`));

  it("creates the default config file and its folder holding only our entry", () => {
    const result = desktop(["--yes"]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const expected =
      process.platform === "darwin"
        ? join(home, "Library", "Application Support", "Claude", "claude_desktop_config.json")
        : join(home, ".config", "Claude", "claude_desktop_config.json");
    expect(readJson(expected)).toEqual({ mcpServers: { bpftrace: npxEntry } });
    expect(statSync(expected).mode & 0o777).toBe(0o600);
    expect(readdirSync(dirname(expected))).toEqual(["claude_desktop_config.json"]);
  });

  it.skipIf(process.platform === "darwin")("follows XDG_CONFIG_HOME on Linux", () => {
    const xdg = join(sandbox, "xdg");
    expect(desktop(["--yes"], { XDG_CONFIG_HOME: xdg }).status).toBe(0);
    expect(readJson(join(xdg, "Claude", "claude_desktop_config.json"))).toEqual({ mcpServers: { bpftrace: npxEntry } });
  });

  it("changes nothing on a second run: same bytes, no backup", () => {
    expect(desktop(["--yes", "--config", configIn()]).status).toBe(0);
    const first = readFileSync(configIn());
    const second = desktop(["--yes", "--config", configIn()]);
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/nothing to do/);
    expect(readFileSync(configIn()).equals(first)).toBe(true);
    expect(backupsOf(configIn())).toEqual([]);
  });

  it("keeps other servers and unrelated keys, keeps the file mode, and backs up the original", () => {
    const original = {
      globalShortcut: "Ctrl+Space",
      preferences: { theme: "dark", nested: [1, { deep: true }] },
      mcpServers: { filesystem: { command: "npx", args: ["-y", "fs-server", "/home"] }, other: { command: "/bin/other", env: { KEY: "v" } } },
    };
    const originalText = JSON.stringify(original, null, 4);
    writeFileSync(configIn(), originalText);
    chmodSync(configIn(), 0o640);
    const result = desktop(["--yes", "--config", configIn()]);
    expect(result.status).toBe(0);
    expect(readJson(configIn())).toEqual({ ...original, mcpServers: { ...original.mcpServers, bpftrace: npxEntry } });
    expect(statSync(configIn()).mode & 0o777).toBe(0o640);
    expect(readFileSync(configIn(), "utf8")).toMatch(/^ {4}"globalShortcut"/m);
    const backups = backupsOf(configIn());
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatch(/^claude_desktop_config\.json\.bak-\d{8}-\d{6}$/);
    expect(readFileSync(join(sandbox, backups[0] ?? ""), "utf8")).toBe(originalText);
  });

  it.each([["install", []], ["uninstall", ["--uninstall"]]])("refuses invalid JSON (%s), naming the line, and leaves the file as it was", (_label, extra) => {
    const broken = '{\n  "mcpServers": {\n    "fs": { "command": "npx" },\n  }\n}\n';
    writeFileSync(configIn(), broken);
    const result = desktop(["--yes", "--config", configIn(), ...extra]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("is not valid JSON: line 4, column 3");
    expect(result.stderr).toContain("4 |   }");
    expect(readFileSync(configIn(), "utf8")).toBe(broken);
    expect(readdirSync(sandbox).sort()).toEqual(["claude_desktop_config.json", "home"]);
  });

  it("--uninstall removes only our entry, after a backup", () => {
    const others = { globalShortcut: "", mcpServers: { filesystem: { command: "npx", args: ["x"] } } };
    writeFileSync(configIn(), JSON.stringify({ ...others, mcpServers: { ...others.mcpServers, bpftrace: npxEntry } }, null, 2));
    const result = desktop(["--uninstall", "--yes", "--config", configIn()]);
    expect(result.status).toBe(0);
    expect(readJson(configIn())).toEqual(others);
    expect(backupsOf(configIn())).toHaveLength(1);
    const again = desktop(["--uninstall", "--yes", "--config", configIn()]);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/nothing to remove/);
    expect(backupsOf(configIn())).toHaveLength(1);
  });

  it("--mode local runs node on the checkout's dist/index.js, and asks for a build when it is missing", () => {
    const unbuilt = scriptInFakeRepo(desktopScript, false);
    const refused = runScript(unbuilt.script, ["--mode", "local", "--yes", "--config", configIn()], { PATH: basePath });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("npm run build");
    expect(existsSync(configIn())).toBe(false);
    const built = scriptInFakeRepo(desktopScript, true);
    expect(runScript(built.script, ["--mode", "local", "--yes", "--config", configIn()], { PATH: basePath }).status).toBe(0);
    expect(readJson(configIn())).toEqual({ mcpServers: { bpftrace: { command: "node", args: [built.entry], env: {} } } });
  });

  it("--env-file appends the flag with an absolute path and warns about a readable file", () => {
    const envFile = writeEnvFile(0o600);
    const quiet = desktop(["--yes", "--config", configIn(), "--env-file", "bpftrace.env", "--name", "tracing"]);
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).toBe("");
    expect(readJson(configIn())).toEqual({ mcpServers: { tracing: { ...npxEntry, args: [...npxEntry.args, "--env", envFile] } } });
    chmodSync(envFile, 0o644);
    const warned = desktop(["--dry-run", "--config", configIn(), "--env-file", envFile]);
    expect(warned.stderr).toContain(`chmod 600 '${envFile}'`);
    const missing = desktop(["--yes", "--config", configIn(), "--env-file", join(sandbox, "absent.env")]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/absent\.env does not exist/);
  });

  it("refuses to change anything without --yes when stdin is not a terminal", () => {
    const result = desktop(["--config", configIn()]);
    expect(result.status).toBe(3);
    expect(result.stderr).toMatch(/not a terminal.*--yes/);
    expect(existsSync(configIn())).toBe(false);
  });

  it("--dry-run shows the entry and writes nothing", () => {
    const result = desktop(["--dry-run", "--config", configIn()]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('"bpftrace-mcp-server"');
    expect(result.stdout).toMatch(/Dry run/);
    expect(existsSync(configIn())).toBe(false);
  });

  const hasScript = process.platform === "linux" && spawnSync("script", ["--version"]).status === 0;
  it.skipIf(!hasScript)("asks y/N on a terminal and applies only a yes", () => {
    const onTerminal = (answer: string, config: string) =>
      spawnSync("script", ["-qec", `'${desktopScript}' --config '${config}'`, "/dev/null"], {
        env: { HOME: home, PATH: basePath },
        input: answer,
        encoding: "utf8",
        timeout: 30_000,
      });
    expect(onTerminal("n\n", join(sandbox, "no.json")).status).toBe(3);
    expect(existsSync(join(sandbox, "no.json"))).toBe(false);
    const yes = onTerminal("y\n", join(sandbox, "yes.json"));
    expect(yes.stdout).toContain("Apply this change? [y/N]");
    expect(yes.status).toBe(0);
    expect(readJson(join(sandbox, "yes.json"))).toEqual({ mcpServers: { bpftrace: npxEntry } });
  });

  it("rejects unknown options and bad values with exit status 2", () => {
    expect(desktop(["--frobnicate"]).status).toBe(2);
    expect(desktop(["--mode", "docker"]).status).toBe(2);
    expect(desktop(["--name", "has space"]).status).toBe(2);
  });
});

describe("setup_claude_code.sh (Claude Code)", () => {
  let project: string;
  let logPath: string;
  let statePath: string;
  let fakePath: string;

  beforeEach(() => {
    project = join(sandbox, "project");
    mkdirSync(project);
    const binDir = join(sandbox, "bin");
    mkdirSync(binDir);
    writeFileSync(join(binDir, "claude"), FAKE_CLAUDE, { mode: 0o755 });
    logPath = join(sandbox, "claude-calls.jsonl");
    statePath = join(sandbox, "claude-state.json");
    fakePath = `${binDir}:${nodeDir}:/usr/bin:/bin`;
  });

  const code = (args: string[]) =>
    runScript(codeScript, args, { PATH: fakePath, FAKE_CLAUDE_LOG: logPath, FAKE_CLAUDE_STATE: statePath }, project);
  const calls = (): string[][] =>
    existsSync(logPath) ? readFileSync(logPath, "utf8").trim().split("\n").map((line) => JSON.parse(line) as string[]) : [];
  const state = (): Record<string, Record<string, unknown>> => (existsSync(statePath) ? JSON.parse(readFileSync(statePath, "utf8")) : {});
  const seed = (value: object) => writeFileSync(statePath, JSON.stringify(value));
  const get = ["mcp", "get", "bpftrace"];
  const add = (scope: string, ...server: string[]) => ["mcp", "add", "--scope", scope, "bpftrace", "--", ...(server.length ? server : ["npx", "-y", "bpftrace-mcp-server"])];
  const remove = (scope: string) => ["mcp", "remove", "--scope", scope, "bpftrace"];

  it.each(["local", "user", "project"])("adds to the %s scope after claude mcp get finds nothing", (scope) => {
    const result = code(["--scope", scope, "--yes"]);
    expect(result.status).toBe(0);
    expect(calls()).toEqual([get, add(scope)]);
    expect(state()[scope]).toEqual({ bpftrace: npxEntry });
  });

  it("uses the local scope and the name bpftrace by default, and --name otherwise", () => {
    expect(code(["--yes"]).status).toBe(0);
    expect(code(["--yes", "--name", "tracer"]).status).toBe(0);
    expect(calls()).toEqual([get, add("local"), ["mcp", "get", "tracer"], ["mcp", "add", "--scope", "local", "tracer", "--", "npx", "-y", "bpftrace-mcp-server"]]);
  });

  it("does nothing when the same command is already in that scope", () => {
    seed({ user: { bpftrace: npxEntry } });
    const result = code(["--scope", "user", "--yes"]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/Nothing to do/);
    expect(calls()).toEqual([get]);
  });

  it("replaces a different entry with remove then add, without printing its secrets", () => {
    seed({ local: { bpftrace: { command: "node", args: ["/old/dist/index.js"], env: { BPFTRACE_PASSWD: "hunter2" } } } });
    const result = code(["--yes"]);
    expect(result.status).toBe(0);
    expect(calls()).toEqual([get, remove("local"), add("local")]);
    expect(state().local).toEqual({ bpftrace: npxEntry });
    expect(result.stderr).toContain("BPFTRACE_PASSWD");
    expect(result.stdout + result.stderr).not.toContain("hunter2");
  });

  it("refuses to replace without --yes when stdin is not a terminal", () => {
    seed({ local: { bpftrace: { command: "node", args: ["/old.js"], env: {} } } });
    const result = code([]);
    expect(result.status).toBe(3);
    expect(calls()).toEqual([get]);
    expect(state().local).toEqual({ bpftrace: { command: "node", args: ["/old.js"], env: {} } });
  });

  it("adds to the requested scope when get shows another one, replacing an entry hidden there", () => {
    seed({ local: { bpftrace: npxEntry }, user: { bpftrace: { command: "old", args: [], env: {} } } });
    const result = code(["--scope", "user", "--yes"]);
    expect(result.status).toBe(0);
    expect(calls()).toEqual([get, add("user"), remove("user"), add("user")]);
    expect(state()).toEqual({ local: { bpftrace: npxEntry }, user: { bpftrace: npxEntry } });
  });

  it("passes --env-file (absolute) and --mode local to the server's argv", () => {
    const envFile = writeEnvFile(0o600);
    expect(code(["--yes", "--env-file", envFile]).status).toBe(0);
    const built = scriptInFakeRepo(codeScript, true);
    const local = runScript(built.script, ["--yes", "--scope", "user", "--mode", "local"], { PATH: fakePath, FAKE_CLAUDE_LOG: logPath, FAKE_CLAUDE_STATE: statePath }, project);
    expect(local.status).toBe(0);
    expect(calls()).toEqual([
      get,
      add("local", "npx", "-y", "bpftrace-mcp-server", "--env", envFile),
      get,
      add("user", "node", built.entry),
    ]);
  });

  it("--uninstall removes from the given scope only", () => {
    seed({ project: { bpftrace: npxEntry }, user: { bpftrace: npxEntry } });
    const result = code(["--uninstall", "--scope", "project", "--yes"]);
    expect(result.status).toBe(0);
    expect(calls()).toEqual([get, remove("project")]);
    expect(state()).toEqual({ project: {}, user: { bpftrace: npxEntry } });
  });

  it("--uninstall with no entry anywhere changes nothing and succeeds", () => {
    const result = code(["--uninstall", "--yes"]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/nothing to remove/);
    expect(calls()).toEqual([get]);
  });

  it("--dry-run only asks claude mcp get and prints the add command", () => {
    const result = code(["--dry-run", "--scope", "project"]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("claude mcp add --scope project bpftrace -- npx -y bpftrace-mcp-server");
    expect(calls()).toEqual([get]);
  });

  it("prints the exact command and the JSON, with exit status 4, when claude is not on PATH", (context) => {
    const nodeOnly = join(sandbox, "node-only");
    mkdirSync(nodeOnly);
    symlinkSync(process.execPath, join(nodeOnly, "node"));
    const withoutClaude = `${nodeOnly}:/usr/bin:/bin`;
    if (spawnSync("sh", ["-c", "command -v claude"], { env: { PATH: withoutClaude } }).status === 0) {
      context.skip("a real claude is installed in /usr/bin or /bin, so a PATH without it cannot be built");
    }
    const result = runScript(codeScript, ["--scope", "user"], { PATH: withoutClaude }, project);
    expect(result.status).toBe(4);
    expect(result.stdout).toContain("\n  claude mcp add --scope user bpftrace -- npx -y bpftrace-mcp-server\n");
    const json = result.stdout.slice(result.stdout.indexOf("\n{") + 1);
    expect(JSON.parse(json)).toEqual({ mcpServers: { bpftrace: { type: "stdio", ...npxEntry } } });
  });

  it("rejects a scope Claude Code does not have, before calling claude", () => {
    expect(code(["--scope", "global"]).status).toBe(2);
    expect(calls()).toEqual([]);
  });
});

describe("setup scripts, static checks", () => {
  it("pass shellcheck (skipped when shellcheck is not installed; required in CI)", (context) => {
    if (spawnSync("shellcheck", ["--version"]).status !== 0) {
      if (process.env.CI) throw new Error("shellcheck is not installed; CI must install it (apt-get install -y shellcheck)");
      context.skip("shellcheck is not installed (apt-get install -y shellcheck)");
    }
    const result = spawnSync("shellcheck", [desktopScript, codeScript], { encoding: "utf8" });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("are executable bash scripts in strict mode", () => {
    for (const script of [desktopScript, codeScript]) {
      expect(statSync(script).mode & 0o111).toBe(0o111);
      expect(readFileSync(script, "utf8")).toMatch(/^#!\/usr\/bin\/env bash\n(#.*\n)*set -euo pipefail\n/);
    }
  });
});
