import { closeSync, openSync, readFileSync, writeSync } from "node:fs";

// proc(5): field 50 of /proc/PID/stat is env_start, the address where the environment block the
// process started with begins (Linux 3.5+). /proc/PID/environ shows that block, whatever
// setenv/unsetenv did afterwards.
const ENV_START_FIELD = 50;

/** Where each named variable's value sits in an environment block (NUL-separated NAME=value entries). */
export function valueRanges(block: Buffer, names: readonly string[]): { name: string; start: number; end: number }[] {
  const ranges: { name: string; start: number; end: number }[] = [];
  let entryStart = 0;
  while (entryStart < block.length) {
    const entryEnd = block.indexOf(0, entryStart) < 0 ? block.length : block.indexOf(0, entryStart);
    for (const name of names) {
      const prefix = Buffer.from(`${name}=`);
      if (block.subarray(entryStart, entryStart + prefix.length).equals(prefix) && entryEnd > entryStart + prefix.length) {
        ranges.push({ name, start: entryStart + prefix.length, end: entryEnd });
      }
    }
    entryStart = entryEnd + 1;
  }
  return ranges;
}

/**
 * Overwrites the values of the named variables, with NUL bytes, in the environment block this
 * process started with, so a secret a client passed in the environment (the MCP Bundle's sudo
 * password) is no longer in /proc/PID/environ for the rest of the server's life. Deleting it from
 * process.env does not do that: unsetenv drops the pointer, the bytes stay. Read the values first:
 * process.env reads the same bytes. Linux only; returns what it erased, or why it could not.
 */
export function eraseFromInitialEnviron(names: readonly string[], procSelf = "/proc/self"): { erased: string[]; failure: string | null } {
  if (process.platform !== "linux") return { erased: [], failure: null };
  try {
    const stat = readFileSync(`${procSelf}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may itself hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const envStart = Number(fields[ENV_START_FIELD - 3]);
    const ranges = valueRanges(readFileSync(`${procSelf}/environ`), names);
    if (ranges.length === 0) return { erased: [], failure: null };
    if (!Number.isSafeInteger(envStart) || envStart <= 0) return { erased: [], failure: `no env_start in ${procSelf}/stat` };
    const memory = openSync(`${procSelf}/mem`, "r+");
    try {
      for (const range of ranges) writeSync(memory, Buffer.alloc(range.end - range.start), 0, range.end - range.start, envStart + range.start);
    } finally {
      closeSync(memory);
    }
    return { erased: ranges.map((range) => range.name), failure: null };
  } catch (error) {
    return { erased: [], failure: error instanceof Error ? error.message : String(error) };
  }
}
