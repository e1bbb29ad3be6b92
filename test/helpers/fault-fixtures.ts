import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installFakeBpftrace } from "./fake-bpftrace.js";
import { startServer, type RunningServer } from "./server-process.js";

/** The uid and gid of `nobody`, for running the server without privileges. */
export const NOBODY = 65_534;

/** A fake `bpftrace` in a world-readable directory, so a server running as another user can find it. */
export function installSharedFakeBpftrace(): string {
  const file = installFakeBpftrace();
  chmodSync(join(file, ".."), 0o755);
  return file;
}

/** A copy of `executable` with mode 0644: present, but nobody may execute it. */
export function nonExecutableCopyOf(executable: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "not-executable-")), "bpftrace");
  copyFileSync(executable, file);
  chmodSync(file, 0o644);
  return file;
}

/**
 * Starts the built server as `nobody` (setpriv, no supplementary groups), as a client would
 * start it for an unprivileged user: it has to go through sudo to run bpftrace.
 */
export async function startServerAsNobody(env: Record<string, string>): Promise<RunningServer> {
  return startServer({
    launcher: ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"],
    env: { HOME: "/nonexistent", ...env },
  });
}

/** Runs a command that must succeed (mount, chmod…), throwing with its stderr otherwise. */
export function runOrThrow(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}`);
}

/** Small tmpfs mounts under `scratch` (root only) for fault tests: `mount(options)`, then `unmountAll()` in afterAll. */
export function tmpfsMounts(scratch: string): { mount: (options: string) => string; unmountAll: () => void } {
  const mounts: string[] = [];
  return {
    mount: (options) => {
      const directory = mkdtempSync(join(scratch, "mnt-"));
      runOrThrow("mount", ["-t", "tmpfs", "-o", options, "tmpfs", directory]);
      mounts.push(directory);
      return directory;
    },
    unmountAll: () => {
      for (const directory of mounts.splice(0).reverse()) {
        if (spawnSync("umount", [directory]).status !== 0) spawnSync("umount", ["-l", directory]);
      }
    },
  };
}
