import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** A config file as found on disk: its real path (symlinks followed), text and mode, or absent. */
export interface ConfigFile {
  /** The path asked for. */
  path: string;
  /** Where writes go: the symlink's target when `path` is one. */
  target: string;
  text: string | null;
  /** Permission bits of the existing file. */
  mode: number | null;
}

/** Reads a config file; a missing one is `text: null`. Other read errors are thrown. */
export function readConfigFile(path: string): ConfigFile {
  let target = path;
  try {
    target = realpathSync(path);
  } catch {
    // Missing (or a dangling link): written where asked.
  }
  try {
    const text = readFileSync(target, "utf8");
    return { path, target, text, mode: statSync(target).mode & 0o7777 };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { path, target, text: null, mode: null };
    throw error;
  }
}

function stamp(now: Date): string {
  const pad = (value: number) => String(value).padStart(2, "0");
  return `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
}

/** Copies the file to `<file>.bak-YYYYmmdd-HHMMSS` (a `-N` suffix when taken), with the file's own mode. */
export function backUp(file: ConfigFile, now: Date): string {
  const base = `${file.target}.bak-${stamp(now)}`;
  let backup = base;
  for (let suffix = 1; existsSync(backup); suffix += 1) backup = `${base}-${suffix}`;
  copyFileSync(file.target, backup);
  // copyFile makes the copy with the umask's mode: a 0600 config must not become a 0644 backup.
  chmodSync(backup, file.mode ?? 0o600);
  return backup;
}

/**
 * Replaces the file's content through a temporary file in the same folder and a rename, so a
 * reader never sees half a file. Keeps an existing file's mode; a new file is 0600.
 */
export function writeConfigFile(file: ConfigFile, text: string): void {
  const folder = dirname(file.target);
  mkdirSync(folder, { recursive: true });
  const temporary = join(folder, `.${basename(file.target)}.${randomBytes(4).toString("hex")}.tmp`);
  const mode = file.mode ?? 0o600;
  const descriptor = openSync(temporary, "wx", mode);
  try {
    writeSync(descriptor, text);
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
  try {
    chmodSync(temporary, mode);
    renameSync(temporary, file.target);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}
