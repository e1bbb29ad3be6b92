import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse } from "jsonc-parser";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SERVER_ENTRY } from "../helpers/server-process.js";

const nodeDir = dirname(process.execPath);
const TOKEN = "tok_e2e_5f1c9a7b3d";
const npx = { command: "npx", args: ["-y", "bpftrace-mcp-server"] };

let sandbox: string;
let home: string;
let project: string;

beforeEach(() => {
  sandbox = realpathSync(mkdtempSync(join(tmpdir(), "setup-command-")));
  home = join(sandbox, "home");
  project = join(sandbox, "project");
  mkdirSync(home);
  mkdirSync(project);
});

afterEach(() => {
  rmSync(sandbox, { recursive: true, force: true });
});

/** Runs `setup` as a user would, in a throwaway HOME, with no `claude` on PATH unless `binDir` has one. */
function setup(args: string[], extraEnv: Record<string, string> = {}, binDir?: string): SpawnSyncReturns<string> {
  const path = [binDir, nodeDir, "/usr/bin", "/bin"].filter(Boolean).join(":");
  return spawnSync(process.execPath, [SERVER_ENTRY, "setup", ...args], { cwd: project, env: { HOME: home, PATH: path, ...extraEnv }, input: "", encoding: "utf8", timeout: 30_000 });
}

function readConfig(path: string): Record<string, unknown> {
  return parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

function at(value: unknown, keys: string[]): unknown {
  return keys.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], value);
}

const backupsOf = (path: string): string[] => (existsSync(dirname(path)) ? readdirSync(dirname(path)).filter((name) => name.startsWith(`${path.split("/").pop() ?? ""}.bak-`)) : []);

// The command line as users run it; every client and form in depth: test/integration/setup-clients.test.ts.
describe("bpftrace-mcp-server setup (the built command)", () => {
  it.each([
    ["claude-desktop", () => join(home, ".config", "Claude", "claude_desktop_config.json")],
    ["claude-code", () => join(home, ".claude.json")],
    ["vscode", () => join(project, ".vscode", "mcp.json")],
    ["cursor", () => join(home, ".cursor", "mcp.json")],
  ])("setup %s writes its client's default file, and a second run changes nothing", (client, file) => {
    const first = setup([client]);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    const bytes = readFileSync(file());
    expect(statSync(file()).mode & 0o777).toBe(0o600);
    const second = setup([client]);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain("nothing to do");
    expect(readFileSync(file()).equals(bytes)).toBe(true);
    expect(backupsOf(file())).toEqual([]);
  });

  it("a bad name, scope, client or option is a usage error (exit 2) that writes nothing", () => {
    for (const bad of [["cursor", "--name", "has space"], ["claude-code", "--scope", "global"], ["zed"], ["cursor", "--frobnicate"], [], ["cursor", "--url", "https://h/mcp"]]) {
      const result = setup(bad);
      expect(result.status, bad.join(" ")).toBe(2);
      expect(result.stderr, bad.join(" ")).toMatch(/^bpftrace-mcp-server: /);
    }
    expect(readdirSync(home)).toEqual([]);
    expect(readdirSync(project)).toEqual([]);
  });

  it("--env-file after the script name is taken by Node itself (exit 9), which is why the flag is --env", () => {
    for (const args of [["--env-file", join(sandbox, "absent.env")], [`--env-file=${join(sandbox, "absent.env")}`]]) {
      const result = setup(["cursor", ...args]);
      expect(result.status).toBe(9);
      expect(result.stderr).toContain("absent.env: not found");
    }
  });

  it("--help lists every client and option", () => {
    const help = setup(["--help"]);
    expect(help.status).toBe(0);
    for (const word of ["claude-desktop", "claude-code", "vscode", "cursor", "--scope", "--env PATH", "--url", "--token-file", "--bridge", "--dry-run", "--uninstall"]) expect(help.stdout).toContain(word);
  });

  it("--mode local runs this installation's dist/index.js with this node", () => {
    expect(setup(["claude-desktop", "--mode", "local"]).status).toBe(0);
    const entry = at(readConfig(join(home, ".config", "Claude", "claude_desktop_config.json")), ["mcpServers", "bpftrace"]);
    expect(entry).toEqual({ command: process.execPath, args: [SERVER_ENTRY], env: {} });
  });

  it("Claude Code's headersHelper, run through sh as Claude Code runs it, prints the bearer header", () => {
    const tokenFile = join(sandbox, "token");
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const result = setup(["claude-code", "--scope", "user", "--mode", "local", "--url", "https://tracer.example:8443/mcp", "--token-file", tokenFile]);
    expect(result.status).toBe(0);
    const entry = at(readConfig(join(home, ".claude.json")), ["mcpServers", "bpftrace"]) as Record<string, string>;
    expect(entry.headersHelper).toBe(`${process.execPath} ${SERVER_ENTRY} setup headers --token-file ${tokenFile}`);
    expect(readFileSync(join(home, ".claude.json"), "utf8") + result.stdout + result.stderr).not.toContain(TOKEN);
    const helper = spawnSync("sh", ["-c", entry.headersHelper ?? ""], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
    expect(helper.status).toBe(0);
    expect(JSON.parse(helper.stdout)).toEqual({ Authorization: `Bearer ${TOKEN}` });
    chmodSync(tokenFile, 0o640);
    const refused = setup(["headers", "--token-file", tokenFile]);
    expect(refused.status).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain("chmod 600");
    expect(refused.stderr).not.toContain(TOKEN);
  });
});

// Stands in for Claude Code's CLI: `mcp add-json` and `mcp remove`, editing ~/.claude.json and
// ./.mcp.json the way claude 2.1.332 does (the entry as given, the file re-written with 2 spaces).
const FAKE_CLAUDE = `#!/usr/bin/env node
const fs = require("node:fs");
const path = require("node:path");
const argv = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_CLAUDE_LOG, JSON.stringify(argv) + "\\n");
const [, verb, , scope, name, json] = argv;
const file = scope === "project" ? path.join(process.cwd(), ".mcp.json") : path.join(process.env.HOME, ".claude.json");
const config = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
const servers = scope === "local" ? (((config.projects ??= {})[process.cwd()] ??= {}).mcpServers ??= {}) : (config.mcpServers ??= {});
if (verb === "add-json") {
  if (servers[name]) { process.stderr.write("MCP server " + name + " already exists\\n"); process.exit(1); }
  servers[name] = JSON.parse(json);
} else if (verb === "remove") {
  if (!servers[name]) { process.stderr.write('No MCP server named "' + name + '"\\n'); process.exit(1); }
  delete servers[name];
} else process.exit(2);
fs.writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
`;

describe("setup claude-code through Claude Code's own CLI", () => {
  let binDir: string;
  let log: string;

  beforeEach(() => {
    binDir = join(sandbox, "bin");
    mkdirSync(binDir);
    writeFileSync(join(binDir, "claude"), FAKE_CLAUDE, { mode: 0o755 });
    log = join(sandbox, "claude-calls.jsonl");
  });

  const calls = (): string[][] => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line) as string[]) : []);

  it.each(["local", "user", "project"])("adds to the %s scope with claude mcp add-json, and does not call claude when nothing changes", (scope) => {
    const run = () => setup(["claude-code", "--scope", scope], { FAKE_CLAUDE_LOG: log }, binDir);
    expect(run().status).toBe(0);
    const entry = { type: "stdio", ...npx, env: {} };
    expect(calls()).toEqual([["mcp", "add-json", "--scope", scope, "bpftrace", JSON.stringify(entry)]]);
    expect(run().stdout).toContain("nothing to do");
    expect(calls()).toHaveLength(1);
  });

  it("replaces a different entry with remove then add-json, after backing up ~/.claude.json", () => {
    writeFileSync(join(home, ".claude.json"), JSON.stringify({ numStartups: 3, mcpServers: { bpftrace: { type: "stdio", command: "node", args: ["/old.js"], env: {} } } }), { mode: 0o600 });
    const result = setup(["claude-code", "--scope", "user", "--env", "/dev/null"], { FAKE_CLAUDE_LOG: log }, binDir);
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toContain("/dev/null is not a regular file");
    const envFile = join(sandbox, "bpftrace.env");
    writeFileSync(envFile, "", { mode: 0o600 });
    expect(setup(["claude-code", "--scope", "user", "--env", envFile], { FAKE_CLAUDE_LOG: log }, binDir).status).toBe(0);
    expect(calls().map((call) => call.slice(0, 5))).toEqual([
      ["mcp", "remove", "--scope", "user", "bpftrace"],
      ["mcp", "add-json", "--scope", "user", "bpftrace"],
    ]);
    expect(readConfig(join(home, ".claude.json"))).toMatchObject({ numStartups: 3, mcpServers: { bpftrace: { type: "stdio", command: "npx", args: [...npx.args, "--env", envFile] } } });
    expect(backupsOf(join(home, ".claude.json"))).toHaveLength(1);
  });

  it("fails, saying so, when claude exits non-zero", () => {
    writeFileSync(join(binDir, "claude"), "#!/bin/sh\necho 'claude: not today' >&2\nexit 1\n", { mode: 0o755 });
    const result = setup(["claude-code"], { FAKE_CLAUDE_LOG: log }, binDir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("claude mcp add-json --scope local bpftrace failed (exit 1): claude: not today");
  });
});
