import { parseSetupArgs, type SetupRequest } from "./commands/setup/args.js";
import { SETTINGS } from "./config.js";
import { PACKAGE } from "./version.js";

export interface CliOptions {
  command: "serve" | "doctor" | "help" | "version" | "token" | "connect" | "setup";
  envFile: string | undefined;
  /** doctor: machine-readable output. */
  json: boolean;
  /** serve: `--http [HOST:]PORT`, serve Streamable HTTP instead of stdio. */
  http?: string;
  /** serve --http: PEM certificate and key files for HTTPS. */
  tlsCert?: string;
  tlsKey?: string;
  /** token: what to do, with which name and scopes. */
  token?: { action: "add" | "list" | "revoke"; name: string | undefined; scopes: string | undefined };
  /** connect: the server's MCP URL and the file holding the bearer token. */
  connect?: { url: string; tokenFile: string | undefined };
  /** setup: what to configure. */
  setup?: SetupRequest;
}

// Flags that take the next argument as their value (or `--flag=value`).
const VALUE_FLAGS = new Set(["--env", "--http", "--tls-cert", "--tls-key", "--scopes", "--token-file"]);

/** Parses argv (without node and the script); throws with a message on anything unknown. */
export function parseArgs(argv: readonly string[]): CliOptions {
  // setup has flags of its own (--url, --token-file, --scope, ...): it parses the rest itself.
  if (argv[0] === "setup") return { command: "setup", envFile: undefined, json: false, setup: parseSetupArgs(argv.slice(1)) };
  const options: CliOptions = { command: "serve", envFile: undefined, json: false };
  const positionals: string[] = [];
  const values = new Map<string, string>();
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] ?? "";
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    if (VALUE_FLAGS.has(flag)) {
      const value = eq > 0 && flag !== arg ? arg.slice(eq + 1) : argv[index + 1];
      if (!value) throw new Error(`${flag} needs a value`);
      values.set(flag, value);
      if (flag === arg) index += 1;
    } else if (arg === "--help" || arg === "-h") positionals.unshift("help");
    else if (arg === "--version" || arg === "-v" || arg === "-V") positionals.unshift("version");
    else if (arg === "--json") options.json = true;
    else if (arg.startsWith("-")) throw new Error(`unknown argument '${arg}' (see --help)`);
    else positionals.push(arg);
  }
  // Not --env-file: Node itself parses that flag even after the script name (nodejs/node#54232).
  options.envFile = values.get("--env");
  const [command = "serve", ...rest] = positionals;
  const unexpected = (extra: readonly string[]): void => {
    if (extra.length > 0) throw new Error(`unknown argument '${extra[0]}' (see --help)`);
  };
  if (command === "help" || command === "version") {
    options.command = command;
    return options;
  }
  if (command === "serve" || command === "doctor") {
    unexpected(rest);
    options.command = command;
  } else if (command === "token") {
    const [action, name, ...extra] = rest;
    if (action !== "add" && action !== "list" && action !== "revoke") throw new Error("token needs an action: add NAME --scopes SCOPES, list, or revoke NAME");
    if (action !== "list" && !name) throw new Error(`token ${action} needs a NAME`);
    unexpected(action === "list" ? rest.slice(1) : extra);
    options.command = "token";
    options.token = { action, name, scopes: values.get("--scopes") };
  } else if (command === "connect") {
    const [url, ...extra] = rest;
    if (!url) throw new Error("connect needs the server's URL: connect https://host:8443/mcp --token-file PATH");
    unexpected(extra);
    options.command = "connect";
    options.connect = { url, tokenFile: values.get("--token-file") };
  } else throw new Error(`unknown argument '${command}' (see --help)`);
  const http = values.get("--http");
  if (http !== undefined) options.http = http;
  const tlsCert = values.get("--tls-cert");
  const tlsKey = values.get("--tls-key");
  if (tlsCert !== undefined) options.tlsCert = tlsCert;
  if (tlsKey !== undefined) options.tlsKey = tlsKey;
  if ((http !== undefined || tlsCert !== undefined || tlsKey !== undefined) && options.command !== "serve") throw new Error("--http, --tls-cert and --tls-key go with serve");
  if (values.has("--scopes") && options.command !== "token") throw new Error("--scopes goes with token add");
  if (values.has("--token-file") && options.command !== "connect") throw new Error("--token-file goes with connect");
  return options;
}

/** The --help text; settings come from the same table the config is validated with. */
export function helpText(): string {
  const width = Math.max(...Object.keys(SETTINGS).map((name) => name.length));
  const settings = Object.entries(SETTINGS).map(([name, setting]) => {
    const shown = name === "BPFTRACE_PASSWD" ? "(unset)" : setting.default === "" ? "(empty)" : setting.default;
    return `  ${name.padEnd(width)}  ${setting.help} [default: ${shown}]`;
  });
  return [
    `${PACKAGE.name} ${PACKAGE.version} — an MCP stdio server that runs bpftrace for an AI assistant, safely.`,
    "",
    "Usage:",
    `  ${PACKAGE.name} [serve] [--env PATH]   serve MCP over stdin/stdout (what MCP clients run)`,
    `  ${PACKAGE.name} serve --http [HOST:]PORT [--tls-cert PEM --tls-key PEM]   serve MCP over Streamable HTTP at /mcp`,
    "        (HOST 127.0.0.1 by default; every request needs a bearer token: a static one, or an OAuth JWT)",
    `  ${PACKAGE.name} token add NAME --scopes bpftrace:read|trace|admin[,...]   make a static token (printed once)`,
    `  ${PACKAGE.name} token list | token revoke NAME   the static tokens (BPFTRACE_MCP_TOKENS_FILE)`,
    `  ${PACKAGE.name} connect URL --token-file PATH   bridge stdio to a remote server (for stdio-only clients)`,
    `  ${PACKAGE.name} doctor [--env PATH] [--json]   check this machine's setup; exit 0 only if it can trace`,
    `  ${PACKAGE.name} setup claude-desktop|claude-code|vscode|cursor [--scope S] [--env PATH] [--dry-run]`,
    "                                     add this server to an MCP client's config (setup --help)",
    `  ${PACKAGE.name} --help | --version`,
    "",
    "Tools: list_probes, bpf_info, exec_program, get_result, stop_execution, list_executions,",
    "       validate_program, list_examples, get_example, describe_struct, compare_executions, sessions.",
    "       Resources: bpftrace://examples/{name}.",
    "",
    "Settings (environment variables; a .env file is read from --env PATH, else ./.env, else",
    "~/.config/bpftrace-mcp-server/.env; variables already set win over the file):",
    ...settings,
    "",
    "Not root? bpftrace is run through sudo: passwordless (sudo -n) or with BPFTRACE_PASSWD fed on stdin.",
    "Logs are JSON on stderr. Security model and audit log: SECURITY.md.",
  ].join("\n");
}
