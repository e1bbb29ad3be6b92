// `token add NAME --scopes …` | `token list` | `token revoke NAME`: the static tokens file.
import type { Config } from "../config.js";
import { isScope, type Scope } from "../executions/principal.js";
import { hashToken, invalidTokenName, newToken, readTokenFile, TokenFileError, writeTokenFile } from "../auth/token-file.js";

export interface TokenCommand {
  action: "add" | "list" | "revoke";
  name: string | undefined;
  scopes: string | undefined;
}

export interface TokenOutput {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Parses `--scopes`: comma- or space-separated, `read`/`trace`/`admin` short forms accepted. */
export function parseScopes(value: string): Scope[] {
  const scopes = value
    .split(/[\s,]+/)
    .filter((word) => word !== "")
    .map((word) => (word.includes(":") ? word : `bpftrace:${word}`));
  const unknown = scopes.filter((scope) => !isScope(scope));
  if (scopes.length === 0 || unknown.length > 0) throw new TokenFileError(`--scopes takes bpftrace:read, bpftrace:trace and/or bpftrace:admin${unknown.length > 0 ? ` (not ${unknown.join(", ")})` : ""}`);
  return [...new Set(scopes as Scope[])];
}

/** Runs the command; returns the exit code. The new token is the only thing written to `out` by add. */
export function runTokenCommand(config: Config, command: TokenCommand | undefined, output: TokenOutput): number {
  const path = config.http.tokensFile;
  try {
    if (!command) throw new TokenFileError("token needs an action");
    const entries = readTokenFile(path);
    if (command.action === "list") {
      if (entries.length === 0) output.err(`no tokens in ${path}\n`);
      for (const entry of entries) output.out(`${entry.name}\t${entry.scopes.join(",")}\tsha256:${entry.sha256.slice(0, 12)}…\n`);
      return 0;
    }
    const name = command.name ?? "";
    if (command.action === "revoke") {
      if (!entries.some((entry) => entry.name === name)) throw new TokenFileError(`no token named '${name}' in ${path}`);
      writeTokenFile(
        path,
        entries.filter((entry) => entry.name !== name),
      );
      output.err(`revoked '${name}': a running server refuses it from its next request\n`);
      return 0;
    }
    const invalid = invalidTokenName(name);
    if (invalid) throw new TokenFileError(invalid);
    if (entries.some((entry) => entry.name === name)) throw new TokenFileError(`a token named '${name}' exists already: revoke it first, or choose another name`);
    if (command.scopes === undefined) throw new TokenFileError("token add needs --scopes: bpftrace:read, bpftrace:trace or bpftrace:admin (each includes the ones before)");
    const scopes = parseScopes(command.scopes);
    const token = newToken();
    writeTokenFile(path, [...entries, { name, scopes, sha256: hashToken(token) }]);
    output.err(`added '${name}' (${scopes.join(",")}) to ${path}. The token below is shown once and stored only as its sha256:\n`);
    output.out(`${token}\n`);
    return 0;
  } catch (error) {
    if (error instanceof TokenFileError || (error as NodeJS.ErrnoException).code !== undefined) {
      output.err(`token: ${error instanceof Error ? error.message : String(error)}\n`);
      return 2;
    }
    throw error;
  }
}
