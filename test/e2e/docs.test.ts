import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { parse, type ParseError } from "jsonc-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkBenchArgs, checkConnect, checkHttpServe, checkRemoteEntry, checkSudoers, claudeHelp, explain, inHome, newPlace, optionsIn, ourArgs, provide, run, startAsClient, type Place } from "../helpers/doc-checks.js";
import { extractSnippets, logicalLines, splitShell, type Snippet } from "../helpers/doc-snippets.js";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { SERVER_ENTRY } from "../helpers/server-process.js";

// Every fenced block and every inline config or command of the documents, run or parsed as written:
// a client config is started the way the client would start it and must answer initialize; a
// command of ours runs in a throwaway HOME; another program's command is checked against its
// --help. A snippet no rule knows fails, so a new snippet is tested by default.
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const DOCS = ["README.md", "setup/SETUP.md", "SECURITY.md", "bench/README.md"];
const PACKAGE = "bpftrace-mcp-server";
const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string; scripts: Record<string, string> };

/**
 * Commands that cannot run here, each with why; they are still parsed by bash -n. An entry that
 * matches nothing fails, and so does one whose `until` has come true: then the command can run.
 */
const SKIPS: { match: RegExp; why: string; until?: () => boolean }[] = [
  { match: /^sudo mount /, why: "mounts tracefs or debugfs on this host (.ci/run mounts tracefs for real)" },
  { match: /^echo .* \| sudo tee /, why: "writes /etc/fstab or /etc/sudoers.d on this host" },
  { match: /^sudo (useradd|chmod 0440|visudo)/, why: "creates a system user or changes sudoers on this host (.ci/sudo-e2e.sh does this with a throwaway user)" },
  { match: /^sudo install (-d -o|-m 0644 setup\/bpftrace-mcp-server\.service)/, why: "installs into /etc on this host, owned by a system user it would have to create" },
  { match: /^sudo systemctl /, why: "starts a system service on this host (the unit's own settings are checked by test/unit/systemd-unit.test.ts)" },
  { match: /^cd your\/project$/, why: "a placeholder for the reader's own project folder (the next lines run in a throwaway project)" },
  { match: /^npm (ci|install)$/, why: "installs packages; CI runs npm ci itself" },
  { match: /^npx -y \.\/bpftrace-mcp-server-[\d.]+\.tgz$/, why: "test/package/pack-and-run.mjs runs exactly this in CI (its version is checked below)" },
];
const usedSkips = new Set<RegExp>();

let fakeBin: string;
const scratch: string[] = [];

beforeAll(() => {
  if (!existsSync(SERVER_ENTRY)) throw new Error(`${SERVER_ENTRY} is missing: npm run build first`);
  fakeBin = mkdtempSync(join(tmpdir(), "docs-bin-"));
  scratch.push(fakeBin);
  // npx stands for the published package: `npx -y bpftrace-mcp-server ...` runs this checkout's build.
  const launcher = `exec "${process.execPath}" "${SERVER_ENTRY}" "$@"`;
  writeFileSync(join(fakeBin, "npx"), `#!/bin/sh\nif [ "$1" = -y ] && [ "$2" = ${PACKAGE} ]; then shift 2; ${launcher}; fi\necho "docs test npx: only -y ${PACKAGE} is emulated: $*" >&2\nexit 127\n`, { mode: 0o755 });
  writeFileSync(join(fakeBin, PACKAGE), `#!/bin/sh\n${launcher}\n`, { mode: 0o755 });
});

afterAll(() => {
  for (const folder of scratch) rmSync(folder, { recursive: true, force: true });
});

/** Our own command line (what follows `npx -y bpftrace-mcp-server`), run as written. */
async function runOurs(words: string[], place: Place): Promise<void> {
  const args = words.map((word, index) => (["--env", "--token-file", "--config"].includes(words[index - 1] ?? "") || word.startsWith("~") ? inHome(word, place) : word));
  args.forEach((word, index) => {
    if (args[index - 1] === "--env") provide(word, "LOG_LEVEL=warn\n", place);
    if (args[index - 1] === "--token-file") provide(word, "tok_docs_test\n", place);
  });
  const [sub] = args;
  if (sub === "connect") return checkConnect(args, place);
  if (sub === "serve" && args.includes("--http")) return checkHttpServe(args, place);
  if (sub === undefined || sub === "serve" || sub.startsWith("--env")) {
    await startAsClient(process.execPath, [SERVER_ENTRY, ...args], {}, place);
    return;
  }
  const result = run(process.execPath, [SERVER_ENTRY, ...args], place);
  expect(result.stderr, explain(result)).not.toMatch(/unknown argument|unknown option/);
  // doctor exits 1 when this machine cannot trace (here it has no bpftrace); anything else must succeed.
  expect(sub === "doctor" ? [0, 1] : [0], explain(result)).toContain(result.status);
}

/** Checks one command of a shell line; returns false when the whole line must run in a shell instead. */
async function checkCommand(words: string[], place: Place): Promise<boolean> {
  // Leading VAR=value settings, sudo (-u USER) and env change where it runs, not what it is.
  let start = 0;
  const settings = (): void => {
    while (start < words.length && /^[A-Za-z_]\w*=/.test(words[start] ?? "")) start += 1;
  };
  settings();
  if (words[start] === "sudo") start += words[start + 1] === "-u" ? 3 : 1;
  if (words[start] === "env") start += 1;
  settings();
  const plain = words.slice(start);
  const [program, ...rest] = plain;
  const ours = ourArgs(plain);
  if (ours !== null) {
    // A synopsis's [optional parts] are run as if given; [...] stands for nothing.
    await runOurs(ours.map((word) => word.replace(/^\[|\]$/g, "")).filter((word) => word !== "" && word !== "..."), place);
    return true;
  }
  if (program === "setup/setup_claude.sh" || program === "setup/setup_claude_code.sh") {
    const args = rest.map((word, index) => (rest[index - 1] === "--env-file" || word.startsWith("~") ? inHome(word, place) : word));
    args.forEach((word, index) => args[index - 1] === "--env-file" && provide(word, "", place));
    const result = run(join(REPO, program), args, place);
    expect(result.status, explain(result)).toBe(0);
    return true;
  }
  if (program === "claude" && rest[0] === "mcp") {
    const sub = rest[1] ?? "";
    const known = optionsIn(claudeHelp(sub));
    const ownPart = rest.includes("--") ? rest.slice(2, rest.indexOf("--")) : rest.slice(2);
    for (const option of ownPart.filter((word) => word.startsWith("-"))) expect([...known], `claude mcp ${sub} ${option}`).toContain(option);
    if (rest.includes("--")) {
      const server = ourArgs(rest.slice(rest.indexOf("--") + 1));
      expect(server, "claude mcp add -- <this server>").not.toBeNull();
      await runOurs((server ?? []).map((word) => word.replace(/^\/home\/you/, "~")), place);
    }
    return true;
  }
  if (program === "npm" && (rest[0] === "run" || rest[0] === "test" || rest[0] === "start")) {
    const script = rest[0] === "run" ? (rest[1] ?? "") : rest[0];
    expect(Object.keys(pkg.scripts), `npm ${rest.join(" ")}`).toContain(script);
    const extra = rest.includes("--") ? rest.slice(rest.indexOf("--") + 1) : [];
    if (script === "bench") checkBenchArgs(extra);
    return true;
  }
  if (program === "node" && rest[0] === "bench/run.mjs") {
    checkBenchArgs(rest.slice(1));
    return true;
  }
  if (program === "npx" && rest[0] === "vitest") {
    const config = readFileSync(join(REPO, "vitest.config.ts"), "utf8");
    for (const [index, word] of rest.entries()) if (rest[index - 1] === "--project") expect(config).toContain(`name: "${word}"`);
    return true;
  }
  return false;
}

/** Lines whose every command is plain file work in HOME (mkdir, install, an editor): run them in the throwaway HOME. */
const HOME_SAFE = /^(mkdir|install|chmod|\$\{EDITOR:-nano\})$/;

/** A skip-list entry for this text (a whole line, or one of its commands), noted as used. */
function skipFor(text: string): boolean {
  const skip = SKIPS.find((entry) => entry.match.test(text));
  if (skip === undefined) return false;
  usedSkips.add(skip.match);
  const syntax = spawnSync("bash", ["-n", "-c", text], { encoding: "utf8" });
  expect(syntax.status, `bash -n: ${syntax.stderr}`).toBe(0);
  return true;
}

async function checkShellLine(line: string, place: Place, audit: () => { folder: string; home: string }): Promise<void> {
  if (skipFor(line.replace(/\s+#\s.*$/, "").trim())) return;
  const commands = splitShell(line);
  // A comment line.
  if (commands.length === 0) return;
  if (commands.every((command) => HOME_SAFE.test(command.words[0] ?? "") && command.words.slice(1).every((word) => !word.startsWith("/") || word === "/dev/null"))) {
    const result = spawnSync("bash", ["-euc", line], { cwd: place.home, env: place.env, encoding: "utf8" });
    expect(result.status, explain(result)).toBe(0);
    return;
  }
  if (commands[0]?.words[0] === "jq") {
    const { folder, home } = audit();
    const sha = /"program_sha256":"([0-9a-f]+)"/.exec(readFileSync(join(folder, "audit.jsonl"), "utf8"))?.[1] ?? "";
    const result = spawnSync("bash", ["-euc", line], { cwd: folder, env: { ...place.env, HOME: home, SHA: sha }, encoding: "utf8" });
    expect(result.status, explain(result)).toBe(0);
    // A query that can match the sample log must print something: the field names are right.
    if (!line.includes('"failed"')) expect(result.stdout.trim(), line).not.toBe("");
    return;
  }
  for (const command of commands) {
    if (skipFor(command.words.join(" "))) continue;
    if (!(await checkCommand(command.words, place))) throw new Error(`no rule for \`${command.words.join(" ")}\`: give it one in docs.test.ts, or a skip with why`);
  }
}

/** One server entry of a client config, started the way its client would start it. */
async function checkServerEntry(name: string, entry: Record<string, unknown>, place: Place, root: Record<string, unknown> = {}): Promise<void> {
  if (entry.url !== undefined) return checkRemoteEntry(name, entry, root, place);
  const command = String(entry.command ?? "");
  const args = Array.isArray(entry.args) ? entry.args.map((arg) => inHome(String(arg), place).replace(/^.*\/bpftrace-mcp-server\/dist\/index\.js$/, SERVER_ENTRY)) : [];
  const env = (entry.env ?? {}) as Record<string, string>;
  if (command === "wsl.exe") {
    // Windows only: what runs inside WSL after `--` must be this server's command line.
    const inner = args.slice(args.indexOf("--") + 1);
    const words = inner[0] === "bash" && inner[1] === "-lc" ? (splitShell(inner[2] ?? "")[0]?.words ?? []) : inner;
    expect(ourArgs(words), `${name}: wsl.exe -- <this server>`).not.toBeNull();
    await runOurs(ourArgs(words) ?? [], place);
    return;
  }
  args.forEach((arg, index) => ["--env", "--env-file"].includes(args[index - 1] ?? "") && provide(arg, "LOG_LEVEL=warn\n", place));
  const server = ourArgs([command, ...args]);
  expect(server, `${name} runs this server`).not.toBeNull();
  if (server?.[0] === "connect") return checkConnect(server, place);
  await startAsClient(command === "node" ? process.execPath : command, args, env, place);
}

async function checkJson(text: string, place: Place, jsonc: boolean): Promise<void> {
  const errors: ParseError[] = [];
  const value = parse(text, errors, { allowTrailingComma: jsonc, disallowComments: !jsonc }) as Record<string, unknown>;
  expect(errors, `not valid ${jsonc ? "JSONC" : "JSON"}`).toEqual([]);
  const servers = (value.mcpServers ?? value.servers) as Record<string, Record<string, unknown>> | undefined;
  if (servers === undefined && ("command" in value || "args" in value)) return checkServerEntry("the entry", { command: "npx", ...value }, place);
  expect(servers, "a client config with mcpServers or servers").toBeDefined();
  for (const [name, entry] of Object.entries(servers ?? {})) await checkServerEntry(name, entry, place, value);
}

/** `// tool_name` lines, each followed by the arguments an MCP client sends: every call must pass the tool's input schema. */
async function checkToolCalls(text: string, place: Place): Promise<void> {
  const calls: { tools: string[]; args: unknown }[] = [];
  let names: string[] = [];
  for (const line of text.split("\n")) {
    const comment = /^\s*\/\/\s*([a-z_]+(?:\s*\/\s*[a-z_]+)*)(?::|$)/.exec(line);
    if (comment && !line.includes("→")) names = (comment[1] ?? "").split("/").map((item) => item.trim());
    else if (line.trim().startsWith("{")) calls.push({ tools: names, args: JSON.parse(line) });
  }
  expect(calls.length).toBeGreaterThan(0);
  const transport = new StdioClientTransport({ command: process.execPath, args: [SERVER_ENTRY], env: { ...place.env, BPFTRACE_MCP_AUDIT_LOG: "off" }, stderr: "pipe" });
  const client = new Client({ name: "docs-test", version: "1.0.0" });
  await client.connect(transport);
  try {
    for (const call of calls) {
      for (const tool of call.tools) {
        const result = await client.callTool({ name: tool, arguments: call.args as Record<string, unknown> });
        const shown = JSON.stringify(result.content).slice(0, 400);
        expect(shown, `${tool} ${JSON.stringify(call.args)}`).not.toMatch(/Input validation error|Tool \S+ not found/);
      }
    }
  } finally {
    await client.close();
  }
}

/** Inline code the reader would copy as a command or a config; other inline code (names, values, paths) is prose. */
function inlineKind(text: string): "config" | "command" | null {
  if (/^"(args|command)":/.test(text) || /^\{.*"(command|args|mcpServers|servers)"/.test(text)) return "config";
  const command = text.replace(/^([A-Za-z_]\w*=\S+ )+/, "");
  if (/^(npx -y (\.\/)?bpftrace-mcp-server|bpftrace-mcp-server [a-z-]|node \S*dist\/index\.js|setup\/setup_claude(_code)?\.sh|claude mcp |node -e |npx vitest )/.test(command)) return "command";
  return null;
}

/** Prose's placeholders in an inline command, given a value each (a file after --env or --token-file is then made). */
const PLACEHOLDERS: Record<string, string> = { "<name>": "bpftrace", "<scope>": "user", "<client>": "cursor", URL: "https://tracer.example:8443/mcp", PATH: "~/.config/bpftrace-mcp-server/from-prose" };

function withPlaceholders(text: string): string {
  return text
    .split(" ")
    .map((word) => PLACEHOLDERS[word] ?? word)
    .join(" ");
}

let auditLog: { folder: string; home: string } | null = null;

/** A real audit log (the server's own writer) with a refused program, a run and its end, for the docs' jq commands. */
async function sampleAuditLog(): Promise<{ folder: string; home: string }> {
  if (auditLog !== null) return auditLog;
  const place = newPlace(fakeBin, scratch);
  const folder = join(place.home, ".local", "state", PACKAGE);
  const fakeBpftrace = installFakeBpftrace();
  scratch.push(dirname(fakeBpftrace));
  const env = { ...place.env, BPFTRACE_PATH: fakeBpftrace };
  const transport = new StdioClientTransport({ command: process.execPath, args: [SERVER_ENTRY], env, stderr: "pipe" });
  const client = new Client({ name: "docs-test", version: "1.0.0" });
  await client.connect(transport);
  await client.callTool({ name: "exec_program", arguments: { program: 'BEGIN { cat("/etc/shadow"); }' } });
  await client.callTool({ name: "exec_program", arguments: { program: "tracepoint:syscalls:sys_enter_openat { @n = count(); }", timeout: 1 } });
  await client.close();
  auditLog = { folder, home: place.home };
  return auditLog;
}

const snippets = DOCS.flatMap((file) => extractSnippets(join(REPO, file), file));
const tested = snippets.filter((snippet) => snippet.kind === "fenced" || inlineKind(snippet.text) !== null);
const label = (snippet: Snippet) => `${snippet.file}:${snippet.line} ${snippet.kind === "inline" ? "`" : ""}${snippet.text.split("\n")[0]?.slice(0, 70) ?? ""}`;

describe("every command and config in the docs, as written", () => {
  beforeAll(async () => {
    if (tested.some((snippet) => snippet.text.includes("jq "))) await sampleAuditLog();
  });

  it.for(tested.map((snippet) => [label(snippet), snippet] as const))("%s", async ([, snippet], context) => {
    // jq and visudo check what the docs say with the real tools: skipped with the reason on a laptop, required in CI.
    for (const [tool, needed] of [["jq", /^jq /m], ["visudo", /^\S+ ALL=\(/]] as const) {
      if (!needed.test(snippet.text) || spawnSync(tool, ["--version"]).status === 0) continue;
      if (process.env.CI) throw new Error(`${tool} is not installed; CI must install it (.ci/run does)`);
      context.skip(`${tool} is not installed`);
    }
    const place = newPlace(fakeBin, scratch);
    const audit = () => auditLog ?? { folder: "", home: "" };
    if (snippet.kind === "inline") {
      if (inlineKind(snippet.text) === "config") {
        const object = snippet.text.trim().startsWith("{") ? snippet.text : `{${snippet.text}}`;
        await checkJson(object, place, false);
      } else if (snippet.text.startsWith("node -e ")) {
        const bad = join(place.home, "bad.json");
        writeFileSync(bad, '{\n  "a": 1,\n}\n');
        const result = spawnSync("bash", ["-c", snippet.text.replace(/\bFILE$/, bad)], { encoding: "utf8" });
        expect(result.status, explain(result)).not.toBe(0);
        expect(result.stderr).toMatch(/SyntaxError/);
      } else await checkShellLine(withPlaceholders(snippet.text), place, audit);
      return;
    }
    if (snippet.lang === "json") return checkJson(snippet.text, place, false);
    if (snippet.lang === "jsonc") return /^\s*\/\/ [a-z_]+/m.test(snippet.text) ? checkToolCalls(snippet.text, place) : checkJson(snippet.text, place, true);
    if (/^\S+ ALL=\(/.test(snippet.text.trim())) return checkSudoers(snippet.text.trim(), place);
    expect(["", "sh", "bash", "shell", "console"], `a code block in ${snippet.lang}: give it a rule`).toContain(snippet.lang);
    for (const line of logicalLines(snippet.text)) await checkShellLine(line.text, place, audit);
  });

  it("uses every skip-list entry, and each still cannot run (a stale entry fails)", () => {
    for (const entry of SKIPS) {
      expect(usedSkips.has(entry.match), `${String(entry.match)} matches no snippet`).toBe(true);
      expect(entry.until?.() ?? false, `${String(entry.match)} can run now: remove the skip`).toBe(false);
    }
  });

  it("names the tarball npm pack makes for this version", () => {
    const tarballs = tested.flatMap((snippet) => [...snippet.text.matchAll(/bpftrace-mcp-server-([\d.]+)\.tgz/g)].map((match) => match[1]));
    expect(tarballs.length).toBeGreaterThan(0);
    for (const version of tarballs) expect(version).toBe(pkg.version);
  });
});
