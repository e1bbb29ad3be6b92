import { SETTINGS } from "./config.js";
import { PACKAGE } from "./version.js";

export interface CliOptions {
  command: "serve" | "doctor" | "help" | "version";
  envFile: string | undefined;
  /** doctor: machine-readable output. */
  json: boolean;
}

/** Parses argv (without node and the script); throws with a message on anything unknown. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const options: CliOptions = { command: "serve", envFile: undefined, json: false };
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index];
    if (arg === "--help" || arg === "-h" || arg === "help") options.command = "help";
    else if (arg === "--version" || arg === "-v" || arg === "-V") options.command = "version";
    else if (arg === "doctor") options.command = "doctor";
    else if (arg === "serve") options.command = "serve";
    else if (arg === "--json") options.json = true;
    // Not --env-file: Node itself parses that flag even after the script name (nodejs/node#54232).
    else if (arg === "--env") {
      const value = argv[index + 1];
      if (!value) throw new Error("--env needs a path");
      options.envFile = value;
      index += 1;
    } else if (arg?.startsWith("--env=")) options.envFile = arg.slice("--env=".length);
    else throw new Error(`unknown argument '${String(arg)}' (see --help)`);
  }
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
    `  ${PACKAGE.name} doctor [--env PATH] [--json]   check this machine's setup; exit 0 only if it can trace`,
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
