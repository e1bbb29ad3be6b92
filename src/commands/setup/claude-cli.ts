import { spawnSync } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

/** Claude Code's own CLI, which edits ~/.claude.json safely while Claude Code runs. */
export interface ClaudeCli {
  /** The executable found on PATH. */
  file: string;
  run(args: readonly string[], cwd: string): { status: number | null; output: string };
}

/** `claude` on PATH, or null. */
export function findClaude(searchPath: string | undefined): ClaudeCli | null {
  for (const directory of (searchPath ?? "").split(delimiter)) {
    if (!directory || !isAbsolute(directory)) continue;
    const file = join(directory, "claude");
    try {
      accessSync(file, constants.X_OK);
      if (!statSync(file).isFile()) continue;
    } catch {
      continue;
    }
    return {
      file,
      run(args, cwd) {
        // No stdin: `claude` must not wait for a question nobody sees.
        const result = spawnSync(file, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
        return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}`.trim() };
      },
    };
  }
  return null;
}
