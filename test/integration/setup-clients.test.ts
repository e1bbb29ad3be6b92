import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse } from "jsonc-parser";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runSetup } from "../../src/commands/setup.js";
import { parseSetupArgs } from "../../src/commands/setup/args.js";

// `setup` in-process against real files in a throwaway HOME: every client, scope and form. The
// built command line itself (exit codes, the header helper, Claude Code's CLI) is in test/e2e.
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

interface Outcome {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `setup` with a throwaway HOME, in the project folder, with no Claude Code CLI. */
async function setup(args: string[], cwd = project): Promise<Outcome> {
  const outcome: Outcome = { status: -1, stdout: "", stderr: "" };
  outcome.status = await runSetup(parseSetupArgs(args), {
    env: { HOME: home, PATH: "/nonexistent" },
    cwd,
    platform: "linux",
    now: () => new Date(),
    out: (text) => (outcome.stdout += text),
    err: (text) => (outcome.stderr += text),
    nodePath: "/usr/bin/node",
    entryPath: "/opt/bpftrace-mcp-server/dist/index.js",
    claude: null,
  });
  return outcome;
}

interface ClientCase {
  client: string;
  scope: string;
  file: () => string;
  /** Keys from the top of the file to the map of servers. */
  servers: () => string[];
  jsonc: boolean;
  stdio: Record<string, unknown>;
}

const CASES: ClientCase[] = [
  { client: "claude-desktop", scope: "user", file: () => join(home, ".config", "Claude", "claude_desktop_config.json"), servers: () => ["mcpServers"], jsonc: false, stdio: { ...npx, env: {} } },
  { client: "claude-code", scope: "local", file: () => join(home, ".claude.json"), servers: () => ["projects", project, "mcpServers"], jsonc: false, stdio: { type: "stdio", ...npx, env: {} } },
  { client: "claude-code", scope: "user", file: () => join(home, ".claude.json"), servers: () => ["mcpServers"], jsonc: false, stdio: { type: "stdio", ...npx, env: {} } },
  { client: "claude-code", scope: "project", file: () => join(project, ".mcp.json"), servers: () => ["mcpServers"], jsonc: false, stdio: { type: "stdio", ...npx, env: {} } },
  { client: "vscode", scope: "workspace", file: () => join(project, ".vscode", "mcp.json"), servers: () => ["servers"], jsonc: true, stdio: { type: "stdio", ...npx } },
  { client: "vscode", scope: "user", file: () => join(home, ".config", "Code", "User", "mcp.json"), servers: () => ["servers"], jsonc: true, stdio: { type: "stdio", ...npx } },
  { client: "cursor", scope: "global", file: () => join(home, ".cursor", "mcp.json"), servers: () => ["mcpServers"], jsonc: true, stdio: npx },
  { client: "cursor", scope: "project", file: () => join(project, ".cursor", "mcp.json"), servers: () => ["mcpServers"], jsonc: true, stdio: npx },
];

function readConfig(path: string): Record<string, unknown> {
  return parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

function at(value: unknown, keys: string[]): unknown {
  return keys.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], value);
}

const backupsOf = (path: string): string[] => (existsSync(dirname(path)) ? readdirSync(dirname(path)).filter((name) => name.startsWith(`${path.split("/").pop() ?? ""}.bak-`)) : []);

/** An existing config in the client's own dialect: other servers, other keys, and (JSONC) comments and trailing commas. */
function existingConfig(item: ClientCase): { text: string; others: Record<string, unknown> } {
  const others = { filesystem: { command: "npx", args: ["-y", "fs-server", "/home"] }, other: { command: "/bin/other", env: { KEY: "v" } } };
  if (item.jsonc) {
    const serversKey = item.servers()[0];
    const text = `{\n\t// the user's own note\n\t"${serversKey}": {\n\t\t"filesystem": { "command": "npx", "args": ["-y", "fs-server", "/home"], }, // kept\n\t\t"other": {\n\t\t\t"command": "/bin/other",\n\t\t\t"env": { "KEY": "v" },\n\t\t},\n\t},\n\t"unrelated": [1, 2, 3,],\n}\n`;
    return { text, others };
  }
  const tree: Record<string, unknown> = { globalShortcut: "Ctrl+Space", preferences: { theme: "dark", nested: [1, { deep: true }] } };
  let node = tree;
  const keys = item.servers();
  keys.forEach((key, index) => {
    node[key] = index === keys.length - 1 ? others : {};
    node = node[key] as Record<string, unknown>;
  });
  return { text: `${JSON.stringify(tree, null, 4)}\n`, others };
}

describe.each(CASES)("setup $client --scope $scope", (item) => {
  const args = () => [item.client, "--scope", item.scope];

  it("creates the config (mode 0600) holding only our entry, and a second run changes nothing", async () => {
    const first = await setup(args());
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    const file = item.file();
    expect(at(readConfig(file), [...item.servers(), "bpftrace"])).toEqual(item.stdio);
    expect(Object.keys(at(readConfig(file), item.servers()) as object)).toEqual(["bpftrace"]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const bytes = readFileSync(file);
    const second = await setup(args());
    expect(second.status).toBe(0);
    expect(second.stdout).toContain("nothing to do");
    expect(readFileSync(file).equals(bytes)).toBe(true);
    expect(backupsOf(file)).toEqual([]);
  });

  it("merges into an existing config, keeps its mode and every other byte, backs it up once, and uninstalls back to the original", async () => {
    const file = item.file();
    const { text, others } = existingConfig(item);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    chmodSync(file, 0o640);
    const result = await setup(args());
    expect(result.status).toBe(0);
    const after = readConfig(file);
    expect(at(after, item.servers())).toEqual({ ...others, bpftrace: item.stdio });
    expect(statSync(file).mode & 0o777).toBe(0o640);
    const backups = backupsOf(file);
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatch(/\.bak-\d{8}-\d{6}$/);
    expect(readFileSync(join(dirname(file), backups[0] ?? ""), "utf8")).toBe(text);
    expect(statSync(join(dirname(file), backups[0] ?? "")).mode & 0o777).toBe(0o640);
    if (item.jsonc) expect(readFileSync(file, "utf8")).toContain("// the user's own note");
    const again = await setup(args());
    expect(again.stdout).toContain("nothing to do");
    expect(backupsOf(file)).toHaveLength(1);
    const removed = await setup([...args(), "--uninstall"]);
    expect(removed.status).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(text);
  });

  it("--dry-run shows the entry and writes nothing, to a fresh or an existing config", async () => {
    const file = item.file();
    const fresh = await setup([...args(), "--dry-run"]);
    expect(fresh.status).toBe(0);
    expect(fresh.stdout).toContain('"bpftrace-mcp-server"');
    expect(fresh.stdout).toContain("Dry run: nothing was written.");
    expect(existsSync(file)).toBe(false);
    const { text } = existingConfig(item);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    expect((await setup([...args(), "--dry-run"])).status).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(text);
    expect(backupsOf(file)).toEqual([]);
  });

  it("refuses a config its client could not read, untouched, naming the line and column", async () => {
    const file = item.file();
    // A missing comma: broken for every client. Strict JSON clients also refuse a trailing comma.
    const broken = item.jsonc ? `{\n  "${item.servers()[0]}": {\n    "a": { "command": "x" }\n    "b": { "command": "y" }\n  }\n}\n` : `{\n  "mcpServers": {\n    "fs": { "command": "npx" },\n  }\n}\n`;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, broken);
    for (const extra of [[], ["--uninstall"]]) {
      const result = await setup([...args(), ...extra]);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(item.jsonc ? "line 4, column 5: a comma expected" : "line 4, column 3");
      expect(result.stderr).toContain(item.jsonc ? `4 |     "b": { "command": "y" }` : "4 |   }");
      expect(result.stderr).toContain("The file was not changed");
      expect(readFileSync(file, "utf8")).toBe(broken);
      expect(backupsOf(file)).toEqual([]);
    }
  });
});

describe("setup: what each client's dialect allows", () => {
  it("Claude Desktop and Claude Code refuse a comment (they read strict JSON); VS Code and Cursor keep it", async () => {
    const withComment = '{\n  // mine\n  "mcpServers": {}\n}\n';
    const desktop = join(home, ".config", "Claude", "claude_desktop_config.json");
    mkdirSync(dirname(desktop), { recursive: true });
    writeFileSync(desktop, withComment);
    const refused = await setup(["claude-desktop"]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("line 2, column 3: a comment, which this client's JSON does not allow");
    expect(readFileSync(desktop, "utf8")).toBe(withComment);
    writeFileSync(join(project, ".mcp.json"), withComment);
    expect((await setup(["claude-code", "--scope", "project"])).status).toBe(1);
    const cursor = join(home, ".cursor", "mcp.json");
    mkdirSync(dirname(cursor), { recursive: true });
    writeFileSync(cursor, withComment);
    expect((await setup(["cursor"])).status).toBe(0);
    expect(readFileSync(cursor, "utf8")).toContain("// mine");
  });

  it("keeps a CRLF file's line endings and a BOM", async () => {
    const file = join(project, ".cursor", "mcp.json");
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, '\uFEFF{\r\n  "mcpServers": {\r\n    "a": { "command": "x" }\r\n  }\r\n}\r\n');
    expect((await setup(["cursor", "--scope", "project"])).status).toBe(0);
    const text = readFileSync(file, "utf8");
    expect(text.startsWith("\uFEFF{\r\n")).toBe(true);
    expect(text.replaceAll("\r\n", "")).not.toContain("\n");
  });

  it("keeps the user's own keys and env in our entry while replacing its command", async () => {
    const file = join(home, ".cursor", "mcp.json");
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ mcpServers: { bpftrace: { command: "node", args: ["/old/dist/index.js"], env: { LOG_LEVEL: "debug" }, disabled: false } } }));
    expect((await setup(["cursor"])).status).toBe(0);
    expect(at(readConfig(file), ["mcpServers", "bpftrace"])).toEqual({ ...npx, env: { LOG_LEVEL: "debug" }, disabled: false });
  });

  it("warns when the entry it keeps holds BPFTRACE_PASSWD, without printing the password", async () => {
    const file = join(home, ".config", "Claude", "claude_desktop_config.json");
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ mcpServers: { bpftrace: { command: "node", args: ["/old.js"], env: { BPFTRACE_PASSWD: "hunter2" } } } }));
    const result = await setup(["claude-desktop"]);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain("keeps BPFTRACE_PASSWD");
    expect(result.stdout + result.stderr).not.toContain("hunter2");
  });
});

describe("setup: the server's command line", () => {
  it("--env adds an absolute --env PATH, warns about a file others can read, and refuses a missing one before writing", async () => {
    const envFile = join(sandbox, "bpftrace.env");
    writeFileSync(envFile, "BPFTRACE_PASSWD=secret\n", { mode: 0o600 });
    const quiet = await setup(["cursor", "--env", "../bpftrace.env"]);
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).toBe("");
    expect(at(readConfig(join(home, ".cursor", "mcp.json")), ["mcpServers", "bpftrace", "args"])).toEqual([...npx.args, "--env", envFile]);
    chmodSync(envFile, 0o644);
    expect((await setup(["cursor", "--env", envFile, "--dry-run"])).stderr).toContain(`chmod 600 ${envFile}`);
    const missing = await setup(["vscode", "--env", join(sandbox, "absent.env")]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/absent\.env does not exist/);
    expect(existsSync(join(project, ".vscode"))).toBe(false);
  });

  it("--name names the entry", async () => {
    expect((await setup(["cursor", "--name", "tracing"])).status).toBe(0);
    expect(Object.keys(at(readConfig(join(home, ".cursor", "mcp.json")), ["mcpServers"]) as object)).toEqual(["tracing"]);
  });

  it("--mode local names the node and the entry script it was given", async () => {
    expect((await setup(["claude-desktop", "--mode", "local"])).status).toBe(1);
    const entryPath = join(sandbox, "dist", "index.js");
    mkdirSync(dirname(entryPath));
    writeFileSync(entryPath, "");
    const outcome: Outcome = { status: -1, stdout: "", stderr: "" };
    const deps = { env: { HOME: home }, cwd: project, platform: "linux" as const, now: () => new Date(), out: (text: string) => (outcome.stdout += text), err: (text: string) => (outcome.stderr += text), nodePath: "/opt/node/bin/node", entryPath, claude: null };
    expect(await runSetup(parseSetupArgs(["claude-desktop", "--mode", "local"]), deps)).toBe(0);
    expect(at(readConfig(join(home, ".config", "Claude", "claude_desktop_config.json")), ["mcpServers", "bpftrace"])).toEqual({ command: "/opt/node/bin/node", args: [entryPath], env: {} });
  });
});

describe("setup --url: the HTTP form keeps the token out of every config", () => {
  const url = "https://tracer.example:8443/mcp";
  let tokenFile: string;

  beforeEach(() => {
    tokenFile = join(sandbox, "token");
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  });

  const httpArgs = (...clientArgs: string[]) => [...clientArgs, "--url", url, "--token-file", tokenFile];

  it("Claude Desktop runs the stdio bridge: <server> connect URL --token-file PATH", async () => {
    expect((await setup(httpArgs("claude-desktop"))).status).toBe(0);
    const file = join(home, ".config", "Claude", "claude_desktop_config.json");
    expect(at(readConfig(file), ["mcpServers", "bpftrace"])).toEqual({ command: "npx", args: [...npx.args, "connect", url, "--token-file", tokenFile], env: {} });
    expect(readFileSync(file, "utf8")).not.toContain(TOKEN);
  });

  it("Claude Code gets an http entry whose headersHelper reads the token file", async () => {
    expect((await setup(httpArgs("claude-code", "--scope", "user"))).status).toBe(0);
    const file = join(home, ".claude.json");
    expect(at(readConfig(file), ["mcpServers", "bpftrace"])).toEqual({ type: "http", url, headersHelper: `npx -y bpftrace-mcp-server setup headers --token-file ${tokenFile}` });
    expect(readFileSync(file, "utf8")).not.toContain(TOKEN);
  });

  it("VS Code gets an http entry reading ${input:…} and a password input, removed again with the entry", async () => {
    const result = await setup(httpArgs("vscode"));
    expect(result.status).toBe(0);
    const file = join(project, ".vscode", "mcp.json");
    const config = readConfig(file);
    expect(at(config, ["servers", "bpftrace"])).toEqual({ type: "http", url, headers: { Authorization: "Bearer ${input:bpftrace-token}" } });
    expect(config.inputs).toEqual([{ type: "promptString", id: "bpftrace-token", description: `bpftrace-mcp-server bearer token (the contents of ${tokenFile})`, password: true }]);
    expect(readFileSync(file, "utf8")).not.toContain(TOKEN);
    expect(result.stdout).toContain("secret storage");
    expect((await setup(httpArgs("vscode"))).stdout).toContain("nothing to do");
    expect((await setup(["vscode", "--uninstall"])).status).toBe(0);
    expect(readConfig(file)).toEqual({ servers: {} });
  });

  it("Cursor gets an http entry reading ${env:BPFTRACE_MCP_TOKEN}, and --bridge gives it the stdio bridge instead", async () => {
    const result = await setup(httpArgs("cursor"));
    expect(result.status).toBe(0);
    const file = join(home, ".cursor", "mcp.json");
    expect(at(readConfig(file), ["mcpServers", "bpftrace"])).toEqual({ url, headers: { Authorization: "Bearer ${env:BPFTRACE_MCP_TOKEN}" } });
    expect(result.stdout).toContain('BPFTRACE_MCP_TOKEN="$(cat');
    expect((await setup([...httpArgs("cursor"), "--bridge"])).status).toBe(0);
    expect(at(readConfig(file), ["mcpServers", "bpftrace"])).toEqual({ command: "npx", args: [...npx.args, "connect", url, "--token-file", tokenFile] });
    expect(readFileSync(file, "utf8")).not.toContain(TOKEN);
  });

  it("refuses a token file other users can read, and a URL that is not http(s), writing nothing", async () => {
    chmodSync(tokenFile, 0o644);
    const open = await setup(httpArgs("cursor"));
    expect(open.status).toBe(1);
    expect(open.stderr).toContain(`chmod 600 '${tokenFile}'`);
    expect(open.stderr).not.toContain(TOKEN);
    chmodSync(tokenFile, 0o600);
    const ftp = await setup(["cursor", "--url", "ftp://h/mcp", "--token-file", tokenFile]);
    expect(ftp.status).toBe(1);
    expect(existsSync(join(home, ".cursor"))).toBe(false);
  });
});
