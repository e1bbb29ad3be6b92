import { readdirSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { parse, type ParseError } from "jsonc-parser";
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
  /** A folder's entries, or [] when it does not exist; replaced in tests. */
  listDir?: (path: string) => string[];
  platform?: NodeJS.Platform;
}

/** Where one client keeps server entries: a file, and how to reach the entry maps in it. */
interface ConfigLocation {
  client: string;
  file: string;
  /** The client reads comments and trailing commas (VS Code, Cursor). */
  jsonc: boolean;
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

/** The per-user folders of Claude Desktop and VS Code (Electron apps): Library/Application Support on macOS, XDG elsewhere. */
function appDataFolders(options: ClientScanOptions, app: string): { scope: string; folder: string }[] {
  const configHome = options.xdgConfigHome && isAbsolute(options.xdgConfigHome) ? options.xdgConfigHome : join(options.home, ".config");
  return [
    { scope: "macOS", folder: join(options.home, "Library", "Application Support", app) },
    { scope: "Linux", folder: join(configHome, app) },
  ];
}

function configLocations(options: ClientScanOptions): ConfigLocation[] {
  const { home, cwd } = options;
  const locations: ConfigLocation[] = [
    ...appDataFolders(options, "Claude").map(({ scope, folder }) => ({ client: "Claude Desktop", file: join(folder, "claude_desktop_config.json"), jsonc: false, servers: topLevel("mcpServers", scope) })),
    { client: "Claude Code", file: join(home, ".claude.json"), jsonc: false, servers: claudeCodeServers },
    { client: "Claude Code", file: join(cwd, ".mcp.json"), jsonc: false, servers: topLevel("mcpServers", "project scope") },
    { client: "Cursor", file: join(home, ".cursor", "mcp.json"), jsonc: true, servers: topLevel("mcpServers", "global") },
    { client: "Cursor", file: join(cwd, ".cursor", "mcp.json"), jsonc: true, servers: topLevel("mcpServers", "project") },
    { client: "VS Code", file: join(cwd, ".vscode", "mcp.json"), jsonc: true, servers: topLevel("servers", "workspace") },
    ...appDataFolders(options, "Code").map(({ scope, folder }) => ({ client: "VS Code", file: join(folder, "User", "mcp.json"), jsonc: true, servers: topLevel("servers", `user profile, ${scope}`) })),
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

/** Strict JSON as Claude reads it, or JSONC (comments, trailing commas) as VS Code and Cursor do. */
function parseAs(text: string, jsonc: boolean): unknown {
  if (!jsonc) return JSON.parse(text);
  const errors: ParseError[] = [];
  const parsed: unknown = parse(text, errors, { allowTrailingComma: true });
  if (errors.length > 0) throw new Error(`error at offset ${errors[0]?.offset ?? 0}`);
  return parsed;
}

function listFolder(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/** MCP Bundles of this server that Claude Desktop installed: <Claude folder>/Claude Extensions/<id>/manifest.json. */
function findBundleInstalls(options: ClientScanOptions, readText: (path: string) => string | null, scan: ClientScan): void {
  const listDir = options.listDir ?? listFolder;
  for (const { folder } of appDataFolders(options, "Claude")) {
    const extensions = join(folder, "Claude Extensions");
    scan.looked.push(extensions);
    for (const id of listDir(extensions)) {
      const manifest = join(extensions, id, "manifest.json");
      const text = readText(manifest);
      if (text === null) continue;
      try {
        const parsed: unknown = JSON.parse(text);
        if (isRecord(parsed) && parsed.name === PACKAGE_NAME) scan.entries.push({ client: "Claude Desktop", scope: `MCP Bundle ${String(parsed.version)}`, file: manifest, name: id });
      } catch {
        scan.problems.push(`${manifest}: not valid JSON`);
      }
    }
  }
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
      parsed = parseAs(text, location.jsonc);
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
  findBundleInstalls(options, readText, scan);
  return scan;
}

/** The report line for MCP clients. */
export function checkClients(scan: ClientScan): DoctorCheck {
  const listed = scan.entries.map((entry) => `${entry.client} (${entry.scope}): "${entry.name}" in ${entry.file}`);
  const setupFix = [
    `Claude Desktop: install the MCP Bundle (${PACKAGE_NAME}-<version>.mcpb; see README), or: npx -y ${PACKAGE_NAME} setup claude-desktop`,
    `Claude Code, VS Code, Cursor: npx -y ${PACKAGE_NAME} setup claude-code|vscode|cursor [--scope ...] (setup --help)`,
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
