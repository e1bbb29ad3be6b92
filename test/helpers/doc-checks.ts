import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { expect } from "vitest";
import { splitShell } from "./doc-snippets.js";

// The checks test/e2e/docs.test.ts applies to the docs' snippets, and the throwaway places they run in.
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const PACKAGE = "bpftrace-mcp-server";

// The docs' commands run on a machine without bpftrace: what they test is that the server takes
// them (flags, files, configs), not tracing, and doctor and bpf_info then answer at once.
export const NO_BPFTRACE = "/nonexistent/docs-test/bpftrace";

/** A throwaway HOME and project folder for one snippet. */
export interface Place {
  home: string;
  project: string;
  env: Record<string, string>;
}

export function newPlace(fakeBin: string, scratch: string[]): Place {
  const root = realpathSync(mkdtempSync(join(tmpdir(), "docs-")));
  scratch.push(root);
  const home = join(root, "home");
  const project = join(root, "project");
  mkdirSync(home);
  mkdirSync(project);
  return { home, project, env: { HOME: home, PATH: `${fakeBin}:${dirname(process.execPath)}:/usr/bin:/bin`, EDITOR: "true", LOG_LEVEL: "warn", BPFTRACE_PATH: NO_BPFTRACE } };
}

/** A path the reader substitutes (/home/you, ~, /abs/path) re-rooted in the throwaway HOME. */
export function inHome(path: string, place: Place): string {
  const home = path.replace(/^~(?=\/|$)/, place.home).replace(/^\/home\/(you|me)(?=\/|$)/, place.home);
  if (home.startsWith(place.home) || !isAbsolute(home)) return home;
  return join(place.home, home);
}

/** Creates (0600) a file the command expects the reader to have made (an --env file, a token file), where the command will look: a relative path in the project folder. */
export function provide(path: string, content: string, place: Place): void {
  const absolute = isAbsolute(path) ? path : join(place.project, path);
  if (!absolute.startsWith(`${dirname(place.home)}/`)) throw new Error(`the docs test would create ${absolute}, outside its throwaway folder`);
  if (existsSync(absolute)) return;
  mkdirSync(dirname(absolute), { recursive: true });
  writeFileSync(absolute, content, { mode: 0o600 });
}

export function run(file: string, args: string[], place: Place, cwd = place.project): SpawnSyncReturns<string> {
  return spawnSync(file, args, { cwd, env: place.env, input: "", encoding: "utf8", timeout: 60_000 });
}

export function explain(result: SpawnSyncReturns<string>): string {
  return `exit ${String(result.status)}${result.error ? ` (${result.error.message})` : ""}\n${result.stdout}\n${result.stderr}`.slice(0, 2000);
}

/** Starts a server the way a client config says and checks that it answers initialize and tools/list. */
export async function startAsClient(command: string, args: string[], env: Record<string, string>, place: Place): Promise<void> {
  const transport = new StdioClientTransport({ command, args, env: { ...place.env, ...env }, cwd: place.project, stderr: "pipe" });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const client = new Client({ name: "docs-test", version: "1.0.0" });
  try {
    await client.connect(transport);
    const { tools } = await client.listTools();
    expect(tools.length, stderr).toBeGreaterThan(0);
  } catch (error) {
    throw new Error(`\`${[command, ...args].join(" ")}\` did not answer initialize: ${String(error)}\n${stderr.slice(0, 1500)}`);
  } finally {
    await client.close().catch(() => undefined);
  }
}


/** Options a --help text lists (both spellings of each). */
export function optionsIn(help: string): Set<string> {
  return new Set([...help.matchAll(/(?:^|[\s,[])(--?[A-Za-z][\w-]*)/gm)].map((match) => match[1] ?? ""));
}

export function claudeHelp(sub: string): string {
  const live = spawnSync("claude", ["mcp", sub, "--help"], { encoding: "utf8" });
  if (live.status === 0) return live.stdout;
  // No Claude Code here: its help as 2.1.332 printed it (SETUP.md's tested version).
  return readFileSync(join(REPO, "test", "fixtures", "cli-help", "claude-2.1.332", `mcp-${sub}.txt`), "utf8");
}

/** A server command line inside another program's arguments: npx, the package name, or node on dist/index.js. */
export function ourArgs(words: string[]): string[] | null {
  const [first, ...rest] = words;
  if (first === "npx" && rest[0] === "-y" && rest[1] === PACKAGE) return rest.slice(2);
  if (first === PACKAGE) return rest;
  if (first === "node" && /(^|\/)dist\/index\.js$/.test(rest[0] ?? "")) return rest.slice(1);
  return null;
}


export function checkBenchArgs(args: string[]): void {
  const usage = spawnSync(process.execPath, [join(REPO, "bench", "run.mjs"), "--help"], { encoding: "utf8" }).stdout;
  const figures = /--only=([\w,]+)/.exec(usage)?.[1]?.split(",") ?? [];
  for (const arg of args) {
    const [option, value] = arg.split("=");
    expect(usage, arg).toContain(`[${option ?? ""}`);
    for (const figure of value?.split(",") ?? []) expect(figures, arg).toContain(figure);
  }
}


/** A sudoers rule, checked by visudo itself. */
export function checkSudoers(text: string, place: Place): void {
  const file = join(place.home, "sudoers");
  writeFileSync(file, `${text}\n`, { mode: 0o440 });
  const result = spawnSync("visudo", ["-cqf", file], { encoding: "utf8" });
  expect(result.status, explain(result)).toBe(0);
}

/** The HTTP form: a URL, and a token the config only refers to (an input, a variable, or a helper that reads a file). */
export function checkRemoteEntry(name: string, entry: Record<string, unknown>, root: Record<string, unknown>, place: Place): void {
  expect(["http:", "https:"], `${name}: url`).toContain(new URL(String(entry.url)).protocol);
  for (const [header, value] of Object.entries((entry.headers ?? {}) as Record<string, string>)) {
    expect(value, `${name}: the ${header} header refers to the token, never holds it`).toMatch(/\$\{(input|env):[\w-]+\}/);
    for (const [, id] of value.matchAll(/\$\{input:([\w-]+)\}/g)) {
      expect(root.inputs, `${name}: an input "${id}" that VS Code prompts for as a password`).toContainEqual(expect.objectContaining({ id, type: "promptString", password: true }));
    }
  }
  if (typeof entry.headersHelper === "string") {
    const words = splitShell(entry.headersHelper)[0]?.words ?? [];
    const tokenFile = inHome(words[words.indexOf("--token-file") + 1] ?? "", place);
    provide(tokenFile, "tok_docs_test\n", place);
    const helper = spawnSync("sh", ["-c", entry.headersHelper.replaceAll(/\/home\/(you|me)\//g, `${place.home}/`)], { env: place.env, encoding: "utf8" });
    expect(helper.status, explain(helper)).toBe(0);
    expect(JSON.parse(helper.stdout), `${name}: headersHelper`).toEqual({ Authorization: "Bearer tok_docs_test" });
  }
}

const SERVER = join(REPO, "dist", "index.js");

/** A loopback port nobody listens on (the docs' 8080 may be taken here). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface LocalHttp {
  url: string;
  stop: () => Promise<void>;
}

/** Starts `serve --http` (with `args`, its address moved to a free loopback port) in `place`, and waits until it listens. */
export async function startHttpServe(args: string[], place: Place): Promise<LocalHttp> {
  const port = await freePort();
  const moved = args.map((word, index) => (args[index - 1] === "--http" ? `127.0.0.1:${port}` : word));
  const child = spawn(process.execPath, [SERVER, ...moved], { cwd: place.project, env: place.env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  // The docs' places log at warn: readiness is the port answering.
  const answers = async (): Promise<boolean> => {
    try {
      await fetch(`http://127.0.0.1:${port}/mcp`, { method: "GET" });
      return true;
    } catch {
      return false;
    }
  };
  let listening = false;
  for (let tries = 0; tries < 300 && !gone && !listening; tries += 1) {
    listening = await answers();
    if (!listening) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const stop = async (): Promise<void> => {
    child.kill("SIGTERM");
    await exited;
  };
  if (!listening) {
    await stop();
    throw new Error(`\`${moved.join(" ")}\` did not start listening:\n${stderr.slice(0, 1500)}`);
  }
  return { url: `http://127.0.0.1:${port}/mcp`, stop };
}

/** `serve --http …` as the docs write it: it listens, and refuses a request without a token with 401 (Bearer). */
export async function checkHttpServe(args: string[], place: Place): Promise<void> {
  const server = await startHttpServe(args, place);
  try {
    const response = await fetch(server.url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate") ?? "").toMatch(/^Bearer /);
  } finally {
    await server.stop();
  }
}

/** `connect URL --token-file FILE`: bridged to a real local `serve --http` holding a token made by `token add`, which FILE then holds. */
export async function checkConnect(connectArgs: string[], place: Place): Promise<void> {
  const added = run(process.execPath, [SERVER, "token", "add", `docs-${Date.now()}`, "--scopes", "bpftrace:read"], place);
  expect(added.status, explain(added)).toBe(0);
  const tokenFileAt = connectArgs.indexOf("--token-file") + 1;
  expect(tokenFileAt, "connect names its --token-file").toBeGreaterThan(0);
  const tokenFile = inHome(connectArgs[tokenFileAt] ?? "", place);
  mkdirSync(dirname(tokenFile), { recursive: true });
  writeFileSync(tokenFile, added.stdout.trim(), { mode: 0o600 });
  const server = await startHttpServe(["serve", "--http", "127.0.0.1:0"], place);
  try {
    const args = connectArgs.map((word, index) => (index === 1 ? server.url : index === tokenFileAt ? tokenFile : word));
    await startAsClient(process.execPath, [SERVER, ...args], {}, place);
  } finally {
    await server.stop();
  }
}
