// The audit log's rotated files: `<log>.1` (newest) to `<log>.N` (oldest). A rotated file is
// removed only once its newest record (its mtime) is older than the retention period; until then
// more files are kept, up to a cap on the bytes of all of them, past which writing stops.
import { chmodSync, readdirSync, renameSync, statSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface RotatedFile {
  path: string;
  /** 1 for the newest rotated file. */
  generation: number;
  bytes: number;
  /** When its last record was written. */
  modifiedMs: number;
}

/** The rotated files of `path`, newest first. */
export function rotatedFiles(path: string): RotatedFile[] {
  const directory = dirname(path);
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    return [];
  }
  const files: RotatedFile[] = [];
  for (const name of names) {
    const generation = name.startsWith(prefix) ? Number(name.slice(prefix.length)) : NaN;
    if (!Number.isInteger(generation) || generation < 1 || `${prefix}${generation}` !== name) continue;
    try {
      const stat = statSync(join(directory, name));
      if (stat.isFile()) files.push({ path: join(directory, name), generation, bytes: stat.size, modifiedMs: stat.mtimeMs });
    } catch {
      // Removed meanwhile (by hand, or logrotate): not ours to count.
    }
  }
  return files.sort((left, right) => left.generation - right.generation);
}

/** Moves `<log>.N` to `<log>.N+1` (oldest first) and the log to `<log>.1`, 0600. */
export function rotate(path: string): void {
  for (const file of rotatedFiles(path).reverse()) renameSync(file.path, `${path}.${file.generation + 1}`);
  renameSync(path, `${path}.1`);
  // The rotated file keeps its 0600 mode; make sure of it in case it was created by hand.
  chmodSync(`${path}.1`, 0o600);
}

/**
 * Removes rotated files holding only records older than `retentionMs`, oldest first. The newest
 * rotated file stays unless `includeNewest` (the bytes cap is reached): what the log held just
 * before its rotation is worth its disk space. Returns the files left, newest first.
 */
export function removeExpired(path: string, nowMs: number, retentionMs: number, includeNewest: boolean): RotatedFile[] {
  const files = rotatedFiles(path);
  const kept: RotatedFile[] = [];
  for (const file of files) {
    const expired = file.modifiedMs < nowMs - retentionMs && (includeNewest || file !== files[0]);
    if (!expired) {
      kept.push(file);
      continue;
    }
    try {
      unlinkSync(file.path);
    } catch {
      kept.push(file);
    }
  }
  return kept;
}
