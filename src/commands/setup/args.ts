/** The MCP clients `setup` can configure. */
export const CLIENT_IDS = ["claude-desktop", "claude-code", "vscode", "cursor"] as const;
export type ClientId = (typeof CLIENT_IDS)[number];

/** Scopes per client, the default first. */
export const CLIENT_SCOPES: Record<ClientId, readonly string[]> = {
  "claude-desktop": ["user"],
  "claude-code": ["local", "user", "project"],
  vscode: ["workspace", "user"],
  cursor: ["global", "project"],
};

/** What `bpftrace-mcp-server setup ...` was asked to do. */
export type SetupRequest = { action: "help" } | { action: "headers"; tokenFile: string } | ClientRequest;

/** `setup <client> ...`: add or remove this server's entry. */
export type ClientRequest = { action: "install" | "uninstall"; client: ClientId } & SetupOptions;

/** Options of `setup <client>`. */
export interface SetupOptions {
  scope: string;
  /** Settings file the server gets with `--env` (stdio form only). */
  envFile: string | undefined;
  /** npx: `npx -y bpftrace-mcp-server`; local: this installation's dist/index.js run by this node. */
  mode: "npx" | "local";
  /** The HTTP form: the URL of a server started with `serve --http`. */
  url: string | undefined;
  /** The bearer token for `url`, read when the client connects; never copied into a config. */
  tokenFile: string | undefined;
  /** With `url`: the stdio bridge (`connect`) even where the client speaks HTTP itself. */
  bridge: boolean;
  /** The entry's key in the client's server map. */
  name: string;
  /** A config file to edit instead of the client's default. */
  configPath: string | undefined;
  dryRun: boolean;
}

const VALUE_OPTIONS = new Set(["--scope", "--env", "--mode", "--url", "--token-file", "--name", "--config"]);
const NAME_PATTERN = /^[A-Za-z0-9_-]+$/;

/** Parses the words after `setup`; throws with a usage message on anything it does not know. */
export function parseSetupArgs(argv: readonly string[]): SetupRequest {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const positionals: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const word = argv[index] ?? "";
    const eq = word.startsWith("--") ? word.indexOf("=") : -1;
    const option = eq > 0 ? word.slice(0, eq) : word;
    if (option === "--help" || option === "-h") return { action: "help" };
    if (VALUE_OPTIONS.has(option)) {
      const value = eq > 0 ? word.slice(eq + 1) : argv[index + 1];
      if (value === undefined || value === "") throw new Error(`${option} needs a value`);
      if (eq < 0) index += 1;
      values.set(option, value);
    } else if (["--dry-run", "--uninstall", "--bridge", "--yes", "-y"].includes(option)) flags.add(option);
    else if (option === "--env-file") throw new Error("the option is --env PATH (Node itself takes --env-file, see SETUP.md)");
    else if (option.startsWith("-")) throw new Error(`unknown option '${word}' (see setup --help)`);
    else positionals.push(word);
  }
  const [target, ...extra] = positionals;
  if (extra.length > 0) throw new Error(`unexpected argument '${extra[0] ?? ""}' (see setup --help)`);
  if (target === "headers") {
    const tokenFile = values.get("--token-file");
    if (!tokenFile) throw new Error("setup headers needs --token-file PATH");
    return { action: "headers", tokenFile };
  }
  if (target === undefined) throw new Error(`name a client: ${CLIENT_IDS.join(", ")} (see setup --help)`);
  if (!(CLIENT_IDS as readonly string[]).includes(target)) throw new Error(`unknown client '${target}': one of ${CLIENT_IDS.join(", ")}`);
  const client = target as ClientId;
  const scopes = CLIENT_SCOPES[client];
  const scope = values.get("--scope") ?? scopes[0] ?? "user";
  if (!scopes.includes(scope)) throw new Error(`--scope for ${client} is one of ${scopes.join(", ")}, not '${scope}'`);
  const mode = values.get("--mode") ?? "npx";
  if (mode !== "npx" && mode !== "local") throw new Error(`--mode is npx or local, not '${mode}'`);
  const name = values.get("--name") ?? "bpftrace";
  if (!NAME_PATTERN.test(name)) throw new Error(`--name may hold only letters, digits, - and _ (got '${name}')`);
  const url = values.get("--url");
  const tokenFile = values.get("--token-file");
  const uninstall = flags.has("--uninstall");
  if (!uninstall) {
    if (url !== undefined && tokenFile === undefined) throw new Error("--url needs --token-file PATH (the bearer token the server expects)");
    if (tokenFile !== undefined && url === undefined) throw new Error("--token-file goes with --url (the HTTP form)");
    if (url !== undefined && values.has("--env")) throw new Error("--env is for the server this client starts; with --url the server runs elsewhere and reads its own settings");
    if (flags.has("--bridge") && url === undefined) throw new Error("--bridge goes with --url");
  }
  return {
    action: uninstall ? "uninstall" : "install",
    client,
    scope,
    envFile: values.get("--env"),
    mode,
    url,
    tokenFile,
    bridge: flags.has("--bridge"),
    name,
    configPath: values.get("--config"),
    dryRun: flags.has("--dry-run"),
  };
}

/** `setup --help`. */
export function setupHelpText(program: string): string {
  return [
    `Usage: ${program} setup <client> [options]`,
    `       ${program} setup headers --token-file PATH`,
    "",
    "Adds (or with --uninstall removes) this server's entry in an MCP client's config. Other",
    "servers and settings stay as they were; an existing file is saved as <file>.bak-YYYYmmdd-HHMMSS",
    "before it changes; running it again changes nothing. Invalid JSON is refused, untouched, with",
    "its line and column (VS Code and Cursor files may hold comments and trailing commas).",
    "",
    "Clients and their files (--scope, default first):",
    "  claude-desktop  claude_desktop_config.json (~/.config/Claude/ on Linux, ~/Library/Application Support/Claude/ on macOS)",
    "  claude-code     local: ~/.claude.json for this project; user: ~/.claude.json; project: ./.mcp.json",
    "                  (through the claude CLI when it is on PATH)",
    "  vscode          workspace: ./.vscode/mcp.json; user: the profile's mcp.json (~/.config/Code/User/mcp.json)",
    "  cursor          global: ~/.cursor/mcp.json; project: ./.cursor/mcp.json",
    "",
    "Options:",
    "  --scope SCOPE      see above",
    "  --env PATH         the server reads its settings (BPFTRACE_PASSWD, ...) from this file; it must",
    "                     exist; keep it chmod 600. Without it: ~/.config/bpftrace-mcp-server/.env",
    "  --mode npx|local   npx (default): npx -y bpftrace-mcp-server; local: this installation's",
    "                     dist/index.js, run by this node",
    "  --url URL          the HTTP form, for a server started with serve --http (https://host:port/mcp)",
    "  --token-file PATH  with --url: the file holding the bearer token, read when the client connects",
    "                     (never copied into the config). Claude Code runs a headersHelper, VS Code asks",
    "                     once and keeps it in its secret storage, Cursor reads ${env:BPFTRACE_MCP_TOKEN},",
    "                     Claude Desktop runs the stdio bridge: <server> connect URL --token-file PATH",
    "  --bridge           with --url: use the stdio bridge for any client",
    "  --name NAME        the entry's name (default: bpftrace)",
    "  --config PATH      edit this file instead of the client's default",
    "  --uninstall        remove the entry",
    "  --dry-run          show what would change; write nothing",
    "  --yes, -y          accepted for older scripts; nothing is asked",
    "",
    "setup headers --token-file PATH prints {\"Authorization\": \"Bearer <token>\"}: the headersHelper",
    "that setup writes for Claude Code runs it.",
    "",
    "Exit status: 0 done, nothing to do, or dry run; 1 failed (nothing was changed); 2 usage error.",
  ].join("\n");
}
