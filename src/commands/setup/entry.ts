import { PACKAGE } from "../../version.js";

/** How a client starts this package: a command and its first arguments. */
export interface Launch {
  command: string;
  args: string[];
}

/** npx runs the published package; local runs this installation's entry with the node running setup. */
export function packageLaunch(mode: "npx" | "local", local: { nodePath: string; entryPath: string }): Launch {
  return mode === "npx" ? { command: "npx", args: ["-y", PACKAGE.name] } : { command: local.nodePath, args: [local.entryPath] };
}

/** The server over stdio, reading its settings from `envFile` when given. */
export function stdioLaunch(launch: Launch, envFile: string | undefined): Launch {
  return { command: launch.command, args: [...launch.args, ...(envFile ? ["--env", envFile] : [])] };
}

/** The stdio bridge to a server at `url` (built by `connect`; this exact command line is its contract). */
export function bridgeLaunch(launch: Launch, url: string, tokenFile: string): Launch {
  return { command: launch.command, args: [...launch.args, "connect", url, "--token-file", tokenFile] };
}

/** A word as POSIX sh reads it back: bare when it holds nothing special, else in single quotes. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** The command line a header helper runs (through sh) to print the bearer header. */
export function headersHelperCommand(launch: Launch, tokenFile: string): string {
  return [launch.command, ...launch.args, "setup", "headers", "--token-file", tokenFile].map(shellWord).join(" ");
}
