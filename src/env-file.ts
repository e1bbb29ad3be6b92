import { existsSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export interface EnvFileResult {
  /** The file that was loaded, if any. */
  path: string | null;
  /** Places looked at, in order. */
  searched: string[];
  /** True when the loaded file is readable by group or others and holds a password. */
  tooOpen: boolean;
}

/** Where `.env` is looked for, first match wins: --env, the working directory, then the user's config folder. */
export function envFileCandidates(explicit: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string[] {
  if (explicit) return [resolve(cwd, explicit)];
  const configHome = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith("/") ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), ".config");
  return [join(cwd, ".env"), join(configHome, "bpftrace-mcp-server", ".env")];
}

/**
 * Merges the first `.env` found into `env`. Variables already set (e.g. by the MCP client's `env`
 * block) win over the file. An explicit --env file that does not exist is an error.
 */
export async function loadEnvFile(explicit: string | undefined, env: NodeJS.ProcessEnv, cwd: string): Promise<EnvFileResult> {
  const searched = envFileCandidates(explicit, env, cwd);
  for (const path of searched) {
    if (!existsSync(path)) continue;
    // Loaded only when there is a file to read. quiet: dotenv 17 otherwise prints a banner on stdout, the protocol channel.
    // Through `default` (module.exports): a CommonJS package's named exports are Node's guess, which the bundle does not repeat.
    const { default: dotenv } = await import("dotenv");
    const result = dotenv.config({ path, processEnv: env as Record<string, string>, quiet: true, override: false });
    if (result.error) throw new Error(`could not read ${path}: ${result.error.message}`);
    const holdsPassword = result.parsed !== undefined && "BPFTRACE_PASSWD" in result.parsed;
    return { path, searched, tooOpen: holdsPassword && (statSync(path).mode & 0o077) !== 0 };
  }
  if (explicit) throw new Error(`--env ${searched[0] ?? explicit} does not exist`);
  return { path: null, searched, tooOpen: false };
}
