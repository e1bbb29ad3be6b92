import { isAbsolute, join } from "node:path";
import type { ClientId } from "./args.js";
import { bridgeLaunch, headersHelperCommand, type Launch } from "./entry.js";

/** Where the client's files are, from the user's environment. */
export interface Places {
  home: string;
  cwd: string;
  platform: NodeJS.Platform;
  /** XDG_CONFIG_HOME (Linux) when set. */
  xdgConfigHome: string | undefined;
  /** CLAUDE_CONFIG_DIR: Claude Code keeps .claude.json there instead of $HOME when set. */
  claudeConfigDir: string | undefined;
  /** The project Claude Code files local-scope servers under: the git top level, else the working directory. */
  projectDir: string;
}

/** A VS Code `inputs` entry: the client prompts for it once and keeps the answer in its secret storage. */
export interface PromptInput {
  type: "promptString";
  id: string;
  description: string;
  password: true;
}

/** What setup writes for one client: its entry, an input it needs, and what the user must know. */
export interface EntryPlan {
  entry: Record<string, unknown>;
  input: PromptInput | undefined;
  notes: string[];
}

/** The HTTP form's facts. */
export interface RemoteTarget {
  url: string;
  tokenFile: string;
  /** The stdio bridge instead of the client's own HTTP support. */
  bridge: boolean;
}

/** One MCP client's config format and file locations. */
export interface ClientSpec {
  title: string;
  /** Comments and trailing commas are allowed in its files. */
  jsonc: boolean;
  file(scope: string, places: Places): string;
  /** Keys from the file's top to the map of servers. */
  serversPath(scope: string, places: Places): string[];
  /** The entry for a server this client starts (stdio). */
  stdio(launch: Launch): Record<string, unknown>;
  /** The entry for a server at a URL, keeping the token out of the file. */
  remote(target: RemoteTarget, launch: Launch, name: string): EntryPlan;
  restart: string;
}

/** The name of the variable Cursor's entry reads the token from. */
export const CURSOR_TOKEN_VARIABLE = "BPFTRACE_MCP_TOKEN";

function configHome(places: Places): string {
  return places.xdgConfigHome && isAbsolute(places.xdgConfigHome) ? places.xdgConfigHome : join(places.home, ".config");
}

/** The per-user application-data folder Electron apps (Claude Desktop, VS Code) use. */
function appData(places: Places, app: string): string {
  return places.platform === "darwin" ? join(places.home, "Library", "Application Support", app) : join(configHome(places), app);
}

const bridgeNote = (target: RemoteTarget): string =>
  `The client starts the stdio bridge, which reads the token from ${target.tokenFile} each time it connects to ${target.url}.`;

function bridged(stdio: (launch: Launch) => Record<string, unknown>, target: RemoteTarget, launch: Launch): EntryPlan {
  return { entry: stdio(bridgeLaunch(launch, target.url, target.tokenFile)), input: undefined, notes: [bridgeNote(target)] };
}

const claudeDesktop: ClientSpec = {
  title: "Claude Desktop",
  jsonc: false,
  file: (_scope, places) => join(appData(places, "Claude"), "claude_desktop_config.json"),
  serversPath: () => ["mcpServers"],
  stdio: (launch) => ({ command: launch.command, args: launch.args, env: {} }),
  // The file has no remote form: always the bridge.
  remote(target, launch) {
    return bridged(this.stdio, target, launch);
  },
  restart: "Quit Claude Desktop completely (not just its window) and start it again.",
};

const claudeCode: ClientSpec = {
  title: "Claude Code",
  jsonc: false,
  file: (scope, places) => (scope === "project" ? join(places.cwd, ".mcp.json") : join(places.claudeConfigDir || places.home, ".claude.json")),
  serversPath: (scope, places) => (scope === "local" ? ["projects", places.projectDir, "mcpServers"] : ["mcpServers"]),
  // What `claude mcp add` writes, so an entry added by hand with the same command counts as up to date.
  stdio: (launch) => ({ type: "stdio", command: launch.command, args: launch.args, env: {} }),
  remote(target, launch) {
    if (target.bridge) return bridged(this.stdio, target, launch);
    const helper = headersHelperCommand(launch, target.tokenFile);
    return {
      entry: { type: "http", url: target.url, headersHelper: helper },
      input: undefined,
      notes: [`Claude Code runs the headersHelper \`${helper}\` at each connection: it reads the token from ${target.tokenFile}.`],
    };
  },
  restart: "Start a new Claude Code session (or /mcp to reconnect); `claude mcp get <name>` shows the entry.",
};

const vscode: ClientSpec = {
  title: "VS Code",
  jsonc: true,
  file: (scope, places) => (scope === "user" ? join(appData(places, "Code"), "User", "mcp.json") : join(places.cwd, ".vscode", "mcp.json")),
  serversPath: () => ["servers"],
  stdio: (launch) => ({ type: "stdio", command: launch.command, args: launch.args }),
  remote(target, launch, name) {
    if (target.bridge) return bridged(this.stdio, target, launch);
    const input: PromptInput = { type: "promptString", id: `${name}-token`, description: `bpftrace-mcp-server bearer token (the contents of ${target.tokenFile})`, password: true };
    return {
      entry: { type: "http", url: target.url, headers: { Authorization: `Bearer \${input:${input.id}}` } },
      input,
      notes: [`VS Code asks for the token (input "${input.id}") the first time it starts the server and keeps it in its secret storage: paste the contents of ${target.tokenFile}.`],
    };
  },
  restart: "VS Code picks up the change itself; MCP: List Servers shows the entry.",
};

const cursor: ClientSpec = {
  title: "Cursor",
  jsonc: true,
  file: (scope, places) => (scope === "project" ? join(places.cwd, ".cursor", "mcp.json") : join(places.home, ".cursor", "mcp.json")),
  serversPath: () => ["mcpServers"],
  stdio: (launch) => ({ command: launch.command, args: launch.args }),
  remote(target, launch) {
    if (target.bridge) return bridged(this.stdio, target, launch);
    return {
      entry: { url: target.url, headers: { Authorization: `Bearer \${env:${CURSOR_TOKEN_VARIABLE}}` } },
      input: undefined,
      notes: [
        `Cursor reads the token from its own environment: start it with ${CURSOR_TOKEN_VARIABLE} set, e.g. ${CURSOR_TOKEN_VARIABLE}="$(cat ${target.tokenFile})" cursor (or use --bridge, which reads the file itself).`,
      ],
    };
  },
  restart: "Reload Cursor (Developer: Reload Window) so it reads the change.",
};

export const CLIENTS: Record<ClientId, ClientSpec> = { "claude-desktop": claudeDesktop, "claude-code": claudeCode, vscode, cursor };

// The keys an entry's form consists of; a user's other keys (disabled, timeout, ...) are kept.
const FORM_KEYS = ["type", "command", "args", "env", "url", "headers", "headersHelper"];

/** Our entry merged over the current one: our form's keys, the user's other keys, and the user's env for a stdio entry. */
export function mergeEntry(current: unknown, ours: Record<string, unknown>): Record<string, unknown> {
  if (typeof current !== "object" || current === null || Array.isArray(current)) return ours;
  const previous = current as Record<string, unknown>;
  const kept = Object.fromEntries(Object.entries(previous).filter(([key]) => !FORM_KEYS.includes(key)));
  const merged: Record<string, unknown> = { ...ours, ...kept };
  const stdio = "command" in ours;
  if (stdio && typeof previous.env === "object" && previous.env !== null && !Array.isArray(previous.env)) merged.env = previous.env;
  return merged;
}
