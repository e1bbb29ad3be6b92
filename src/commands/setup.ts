import { spawnSync } from "node:child_process";
import { existsSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PACKAGE } from "../version.js";
import { setupHelpText, type ClientId, type ClientRequest, type SetupRequest } from "./setup/args.js";
import { findClaude, type ClaudeCli } from "./setup/claude-cli.js";
import { CLIENTS, type EntryPlan, type Places } from "./setup/clients.js";
import { backUp, readConfigFile, writeConfigFile } from "./setup/config-file.js";
import { packageLaunch, shellWord, stdioLaunch, type Launch } from "./setup/entry.js";
import { ConfigRefused, holdsEntry, planSetup, type SetupPlan } from "./setup/plan.js";
import { bearerHeaders, readTokenFile, TokenFileError } from "./setup/token-file.js";

/** What setup needs from the outside world; tests replace any of it. */
export interface SetupDeps {
  env: NodeJS.ProcessEnv;
  cwd: string;
  platform: NodeJS.Platform;
  now: () => Date;
  out: (text: string) => void;
  err: (text: string) => void;
  /** --mode local: the node that runs this command, and this installation's entry script. */
  nodePath: string;
  entryPath: string;
  /** Claude Code's CLI; null when it is not installed. Default: `claude` on PATH. */
  claude?: ClaudeCli | null;
}

/** Exit statuses, as --help lists them. */
const EXIT = { ok: 0, failed: 1 } as const;

class SetupFailed extends Error {}

export function defaultSetupDeps(): SetupDeps {
  return {
    env: process.env,
    cwd: process.cwd(),
    platform: process.platform,
    now: () => new Date(),
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    nodePath: process.execPath,
    // This module sits in dist/commands/ (the bundle rewrites import.meta.url to that place): the entry is one level up.
    entryPath: fileURLToPath(new URL("../index.js", import.meta.url)),
  };
}

function projectDir(cwd: string): string {
  const git = spawnSync("git", ["rev-parse", "--show-toplevel"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 });
  const top = git.status === 0 ? git.stdout.trim() : "";
  if (top) return top;
  try {
    return realpathSync(cwd);
  } catch {
    return cwd;
  }
}

function places(deps: SetupDeps): Places {
  const home = deps.env.HOME || homedir();
  return {
    home,
    cwd: deps.cwd,
    platform: deps.platform,
    xdgConfigHome: deps.env.XDG_CONFIG_HOME,
    claudeConfigDir: deps.env.CLAUDE_CONFIG_DIR,
    projectDir: projectDir(deps.cwd),
  };
}

/** The settings file, absolute and checked, so a typo shows now rather than as a server that will not start. */
function checkedEnvFile(path: string, deps: SetupDeps, warn: (text: string) => void): string {
  const absolute = resolve(deps.cwd, path);
  if (!existsSync(absolute)) {
    throw new SetupFailed(`--env ${absolute} does not exist; create it first (install -m 600 /dev/null ${shellWord(absolute)}), then write BPFTRACE_PASSWD=... and any other settings in it`);
  }
  const stats = statSync(absolute);
  if (!stats.isFile()) throw new SetupFailed(`--env ${absolute} is not a regular file`);
  const mode = (stats.mode & 0o777).toString(8);
  if ((stats.mode & 0o022) !== 0) warn(`${absolute} has mode ${mode}: other users can change it, e.g. point BPFTRACE_PATH at a program that sudo then runs as root; run: chmod 600 ${shellWord(absolute)}`);
  else if ((stats.mode & 0o044) !== 0) warn(`${absolute} has mode ${mode}: other users can read it (and BPFTRACE_PASSWD in it); run: chmod 600 ${shellWord(absolute)}`);
  return absolute;
}

function checkedUrl(text: string, warn: (text: string) => void): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SetupFailed(`--url ${text} is not a URL (e.g. https://host:8443/mcp)`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new SetupFailed(`--url must be http:// or https://, not ${url.protocol}`);
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  if (url.protocol === "http:" && !loopback) warn(`${text} is plain http to another host: the bearer token crosses the network readable by anyone on the path; use https`);
  return url.href;
}

function localLaunchChecks(deps: SetupDeps, warn: (text: string) => void): void {
  if (!existsSync(deps.entryPath)) throw new SetupFailed(`${deps.entryPath} does not exist; build the server first (npm install && npm run build)`);
  if (deps.entryPath.includes("/_npx/")) warn(`${deps.entryPath} is in npx's temporary cache, which npx may delete: use --mode npx instead`);
}

/** The entry to write for an install, after checking every path and URL the entry will name. */
function wantedEntry(request: ClientRequest, deps: SetupDeps, launch: Launch, warn: (text: string) => void): EntryPlan {
  const spec = CLIENTS[request.client];
  if (request.url !== undefined && request.tokenFile !== undefined) {
    const url = checkedUrl(request.url, warn);
    const tokenFile = resolve(deps.cwd, request.tokenFile);
    try {
      readTokenFile(tokenFile);
    } catch (error) {
      if (error instanceof TokenFileError) throw new SetupFailed(error.message);
      throw error;
    }
    return spec.remote({ url, tokenFile, bridge: request.bridge }, launch, request.name);
  }
  const envFile = request.envFile === undefined ? undefined : checkedEnvFile(request.envFile, deps, warn);
  return { entry: spec.stdio(stdioLaunch(launch, envFile)), input: undefined, notes: [] };
}

const SECRET_KEY = /passw|token|secret|authorization|api[-_]?key/i;

/** A copy for printing: values under secret-looking keys hidden, unless they are a client's ${...} placeholder. */
function hideSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(hideSecrets);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, typeof item === "string" && SECRET_KEY.test(key) && !item.includes("${") ? "[hidden]" : hideSecrets(item)]),
  );
}

function indent(text: string): string {
  return text.replace(/^/gm, "  ");
}

function describePlan(plan: SetupPlan, name: string, title: string): string {
  const file = plan.file.path;
  const shown = (value: unknown) => `${indent(JSON.stringify(hideSecrets(value), null, 2))}\n`;
  switch (plan.status) {
    case "unchanged":
      return `${title} already has this "${name}" entry in ${file}; nothing to do.\n`;
    case "absent":
      return `No "${name}" entry in ${file}; nothing to remove.\n`;
    case "remove":
      return `Removing the "${name}" entry from ${file} (other entries are kept):\n${shown(plan.current)}`;
    case "create":
      return `Creating ${file} with this "${name}" entry:\n${shown(plan.next)}`;
    case "add":
      return `Adding this "${name}" entry to ${file}:\n${shown(plan.next)}`;
    case "update":
      return `Replacing the "${name}" entry in ${file}.\nWas:\n${shown(plan.current)}Now:\n${shown(plan.next)}`;
  }
}

/** Claude Code edits ~/.claude.json itself (it may be running): ask its CLI, then check what it wrote. */
function applyWithClaude(plan: SetupPlan, claude: ClaudeCli, request: { scope: string; name: string }, cwd: string): void {
  const steps: string[][] = [];
  if (plan.current !== undefined) steps.push(["mcp", "remove", "--scope", request.scope, request.name]);
  if (plan.next !== undefined) steps.push(["mcp", "add-json", "--scope", request.scope, request.name, JSON.stringify(plan.next)]);
  for (const args of steps) {
    const result = claude.run(args, cwd);
    if (result.status !== 0) throw new SetupFailed(`claude ${args.slice(0, 5).join(" ")} failed (exit ${String(result.status)}): ${result.output}`);
  }
  const after = readConfigFile(plan.file.path).text ?? "";
  if (!holdsEntry(after, false, plan.entryPath, plan.next)) {
    throw new SetupFailed(`claude did not leave the planned entry at ${plan.entryPath.join(" > ")} in ${plan.file.path}`);
  }
}

function apply(plan: SetupPlan, deps: SetupDeps, request: { client: ClientId; scope: string; name: string; configPath: string | undefined }): string | null {
  const backup = plan.file.text === null ? null : backUp(plan.file, deps.now());
  const claude = request.client === "claude-code" && request.configPath === undefined ? (deps.claude === undefined ? findClaude(deps.env.PATH) : deps.claude) : null;
  if (claude !== null) {
    applyWithClaude(plan, claude, request, deps.cwd);
    return backup;
  }
  if (!holdsEntry(plan.newText, CLIENTS[request.client].jsonc, plan.entryPath, plan.next)) {
    throw new SetupFailed(`internal error: the edited text of ${plan.file.path} does not hold the planned entry; nothing was written`);
  }
  writeConfigFile(plan.file, plan.newText);
  return backup;
}

async function runHeaders(tokenFile: string, deps: SetupDeps): Promise<number> {
  try {
    deps.out(`${bearerHeaders(readTokenFile(resolve(deps.cwd, tokenFile)))}\n`);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof TokenFileError)) throw error;
    deps.err(`${PACKAGE.name} setup headers: ${error.message}\n`);
    return EXIT.failed;
  }
}

/** `bpftrace-mcp-server setup ...`: returns the exit status. */
export async function runSetup(request: SetupRequest, deps: SetupDeps = defaultSetupDeps()): Promise<number> {
  if (request.action === "help") {
    deps.out(`${setupHelpText(PACKAGE.name)}\n`);
    return EXIT.ok;
  }
  if (request.action === "headers") return runHeaders(request.tokenFile, deps);
  const warn = (text: string) => deps.err(`setup: warning: ${text}\n`);
  const spec = CLIENTS[request.client];
  try {
    const where = places(deps);
    const launch = packageLaunch(request.mode, { nodePath: deps.nodePath, entryPath: deps.entryPath });
    if (request.mode === "local" && request.action === "install") localLaunchChecks(deps, warn);
    const wanted = request.action === "install" ? wantedEntry(request, deps, launch, warn) : undefined;
    const filePath = request.configPath === undefined ? spec.file(request.scope, where) : resolve(deps.cwd, request.configPath);
    const plan = planSetup({ client: request.client, scope: request.scope, name: request.name, filePath, places: where, wanted });
    deps.out(describePlan(plan, request.name, spec.title));
    const env = (plan.next ?? {}).env;
    if (typeof env === "object" && env !== null && "BPFTRACE_PASSWD" in env) {
      warn(`the "${request.name}" entry keeps BPFTRACE_PASSWD in its "env": the sudo password sits in ${plan.file.path}; move it to a 0600 file, delete it from the entry and run setup again with --env PATH`);
    }
    for (const note of plan.notes) deps.out(`${note}\n`);
    if (plan.status === "unchanged" || plan.status === "absent") return EXIT.ok;
    if (request.dryRun) {
      deps.out("Dry run: nothing was written.\n");
      return EXIT.ok;
    }
    const backup = apply(plan, deps, request);
    deps.out(`${plan.status === "remove" ? "Removed from" : plan.file.text === null ? "Created" : "Updated"} ${plan.file.path}${backup ? ` (backup: ${backup})` : ""}.\n`);
    deps.out(`${spec.restart}\n`);
    const next = plan.next;
    if (request.url === undefined && typeof next?.command === "string" && Array.isArray(next.args)) {
      deps.out(`Check that the server can trace with: ${[next.command, ...next.args.map(String), "doctor"].map(shellWord).join(" ")}\n`);
    }
    return EXIT.ok;
  } catch (error) {
    if (error instanceof SetupFailed || error instanceof ConfigRefused) {
      deps.err(`setup: error: ${error.message}\n`);
      return EXIT.failed;
    }
    throw error;
  }
}
