// Names for system call numbers, read from this machine's kernel headers (linux-libc-dev), so the
// maps of a trace keyed by `args->id` can say "openat" instead of 257.

import { readFileSync } from "node:fs";

const DEFINE = /^#define __NR_([a-z0-9_]+)\s+(\d+)\s*$/gm;

/** Where the headers keep the table, by Node's name for the architecture. */
function candidates(arch: string): string[] {
  switch (arch) {
    case "x64":
      return ["/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h"];
    case "arm64":
      return ["/usr/include/aarch64-linux-gnu/asm/unistd.h", "/usr/include/asm-generic/unistd.h"];
    default:
      return ["/usr/include/asm/unistd.h", "/usr/include/asm-generic/unistd.h"];
  }
}

/** Parses `#define __NR_name number` lines. */
export function parseSyscallTable(header: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const match of header.matchAll(DEFINE)) {
    const number = Number(match[2]);
    if (!names.has(number)) names.set(number, match[1] ?? "");
  }
  return names;
}

/** This machine's syscall names by number; empty when no header is installed (numbers stay numbers). */
export function loadSyscallNames(arch: string = process.arch, read: (path: string) => string = (path) => readFileSync(path, "utf8")): Map<number, string> {
  for (const path of candidates(arch)) {
    try {
      const names = parseSyscallTable(read(path));
      if (names.size > 0) return names;
    } catch {
      // Not there: try the next place.
    }
  }
  return new Map();
}
