import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { check, type DoctorCheck } from "./report.js";

const PACKAGE_NAME = "bpftrace-mcp-server";

/** An MCP client's server entry that runs this server. */
export interface ClientEntry {
  client: string;
  /** "user", "local (project /path)", "project", ... */
  scope: string;
  file: string;
  /** The entry's key, e.g. "bpftrace". */
  name: string;
}

export interface ClientScan {
  entries: ClientEntry[];
  /** Files that exist but could not be used, with why. */
  problems: string[];
  /** Every file looked at, found or not. */
  looked: string[];
}

export interface ClientScanOptions {
  home: string;
  cwd: string;
  /** XDG_CONFIG_HOME, when set. */
  xdgConfigHome?: string | undefined;
  /** A file's text, or null when it does not exist; replaced in tests. */
  readText?: (path: string) => string | null;
}

/** Where one client keeps server entries: a file, and how to reach the entry maps in it. */
interface ConfigLocation {
  client: string;
  file: string;
  /** Entry maps in the parsed file, each with the scope it stands for. */
  servers: (parsed: unknown) => { scope: string; entries: unknown }[];
}

function readTextFile(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const topLevel = (key: string, scope: string) => (parsed: unknown) => (isRecord(parsed) ? [{ scope, entries: parsed[key] }] : []);

/** Claude Code's ~/.claude.json: user scope at the top, local scope per project path. */
function claudeCodeServers(parsed: unknown): { scope: string; entries: unknown }[] {
  if (!isRecord(parsed)) return [];
  const found = [{ scope: "user scope", entries: parsed.mcpServers }];
  if (isRecord(parsed.projects)) {
    for (const [projectPath, project] of Object.entries(parsed.projects)) {
      if (isRecord(project)) found.push({ scope: `local scope, project ${projectPath}`, entries: project.mcpServers });
    }
  }
  return found;
}

function configLocations(options: ClientScanOptions): ConfigLocation[] {
  const { home, cwd } = options;
  const configHome = options.xdgConfigHome && isAbsolute(options.xdgConfigHome) ? options.xdgConfigHome : join(home, ".config");
  const locations: ConfigLocation[] = [
    { client: "Claude Desktop", file: join(home, "Library", "Application Support", "Claude", "claude_desktop_config.json"), servers: topLevel("mcpServers", "macOS") },
    { client: "Claude Desktop", file: join(configHome, "Claude", "claude_desktop_config.json"), servers: topLevel("mcpServers", "Linux") },
    { client: "Claude Code", file: join(home, ".claude.json"), servers: claudeCodeServers },
    { client: "Claude Code", file: join(cwd, ".mcp.json"), servers: topLevel("mcpServers", "project scope") },
    { client: "Cursor", file: join(home, ".cursor", "mcp.json"), servers: topLevel("mcpServers", "global") },
    { client: "Cursor", file: join(cwd, ".cursor", "mcp.json"), servers: topLevel("mcpServers", "project") },
    { client: "VS Code", file: join(cwd, ".vscode", "mcp.json"), servers: topLevel("servers", "workspace") },
  ];
  // With cwd = home the project and global files are the same file: look at it once.
  return locations.filter((location, index) => locations.findIndex((other) => other.file === location.file) === index);
}

/** True when a path points into an installed or checked-out copy of this package (a local build). */
function isInsidePackage(path: string, readText: (path: string) => string | null): boolean {
  if (!isAbsolute(path)) return false;
  let directory = dirname(path);
  for (let depth = 0; depth < 4; depth += 1) {
    const manifest = readText(join(directory, "package.json"));
    if (manifest !== null) {
      try {
        const parsed: unknown = JSON.parse(manifest);
        return isRecord(parsed) && parsed.name === PACKAGE_NAME;
      } catch {
        return false;
      }
    }
    const parent = dirname(directory);
    if (parent === directory) return false;
    directory = parent;
  }
  return false;
}

/** Whether a server entry runs this server: by package name in command/args, or a path into a local build. */
export function runsThisServer(entry: unknown, readText: (path: string) => string | null = readTextFile): boolean {
  if (!isRecord(entry) || typeof entry.command !== "string") return false;
  const args = Array.isArray(entry.args) ? entry.args.filter((arg): arg is string => typeof arg === "string") : [];
  const words = [entry.command, ...args];
  return words.some((word) => word.includes(PACKAGE_NAME)) || words.some((word) => /\.(?:m?js|ts)$/.test(word) && isInsidePackage(word, readText));
}

/** Looks through every known MCP client config for entries that run this server. */
export function findClientEntries(options: ClientScanOptions): ClientScan {
  const readText = options.readText ?? readTextFile;
  const scan: ClientScan = { entries: [], problems: [], looked: [] };
  for (const location of configLocations(options)) {
    scan.looked.push(location.file);
    const text = readText(location.file);
    if (text === null) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      scan.problems.push(`${location.file}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
      continue;
    }
    for (const { scope, entries } of location.servers(parsed)) {
      if (!isRecord(entries)) continue;
      for (const [name, entry] of Object.entries(entries)) {
        if (runsThisServer(entry, readText)) scan.entries.push({ client: location.client, scope, file: location.file, name });
      }
    }
  }
  return scan;
}

/** The report line for MCP clients; `setupDir` is where the setup scripts ship. */
export function checkClients(scan: ClientScan, setupDir: string): DoctorCheck {
  const listed = scan.entries.map((entry) => `${entry.client} (${entry.scope}): "${entry.name}" in ${entry.file}`);
  const setupFix = [
    `Claude Desktop: ${join(setupDir, "setup_claude.sh")}`,
    `Claude Code: ${join(setupDir, "setup_claude_code.sh")} (or: claude mcp add bpftrace -- npx -y ${PACKAGE_NAME})`,
    `Cursor: an entry { "command": "npx", "args": ["-y", "${PACKAGE_NAME}"] } under "mcpServers" in ~/.cursor/mcp.json; VS Code: the same under "servers" in .vscode/mcp.json.`,
  ].join("\n");
  if (scan.problems.length > 0) {
    const found = listed.length > 0 ? listed.join("\n") : "no client configured to run this server";
    return check("mcp-clients", "MCP clients", "warn", `${found}\n${scan.problems.join("\n")}`, "Repair the JSON of the files named: the client cannot read them either.");
  }
  if (listed.length === 0) {
    return check("mcp-clients", "MCP clients", "info", `no client is configured to run ${PACKAGE_NAME} (looked at ${scan.looked.length} config files)`, setupFix);
  }
  return check("mcp-clients", "MCP clients", "info", listed.join("\n"));
}
