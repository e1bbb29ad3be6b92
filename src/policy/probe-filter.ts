// Validates the search filter given to `bpftrace -l`: a probe glob, never an option or a shell word.

const MAX_FILTER_CHARS = 512;
const MAX_PARTS = 4;
const FILTER_CHAR = /^[A-Za-z0-9_:./*?[\]{},!+@-]$/;
const PATH_PROVIDERS: ReadonlySet<string> = new Set(["uprobe", "uretprobe", "u", "ur", "usdt", "U"]);
const EXAMPLES =
  "A filter is a probe glob such as tracepoint:syscalls:*open*, kprobe:vfs_*, *sleep* or uprobe:/usr/lib/x86_64-linux-gnu/libc.so.6:*";

/** Result of checking a `bpftrace -l` filter; `reason` says what is wrong and what a valid filter looks like (callers add their own prefix). */
export type ProbeFilterCheck = { ok: true } | { ok: false; reason: string };

/** Accepts only the probe-glob grammar: `provider:target:name` with glob characters, at most 4 parts. */
export function checkProbeFilter(filter: string): ProbeFilterCheck {
  const problem = findProblem(filter);
  return problem === undefined ? { ok: true } : { ok: false, reason: `${problem}. ${EXAMPLES}.` };
}

function findProblem(filter: string): string | undefined {
  if (filter.length === 0) return "it is empty";
  if (filter.length > MAX_FILTER_CHARS) return `it is ${filter.length} characters long; the limit is ${MAX_FILTER_CHARS}`;
  if (filter.startsWith("-")) return "it starts with `-`, which bpftrace would read as a command-line option";
  const spaceAt = Array.from(filter).findIndex((char) => /\s/.test(char) || char.charCodeAt(0) < 0x20 || char === "\x7f");
  if (spaceAt !== -1) return `it contains whitespace or a control character at position ${spaceAt + 1}`;
  const bad = Array.from(filter).find((char) => !FILTER_CHAR.test(char));
  if (bad !== undefined) {
    const shown = /^[\x21-\x7e]$/.test(bad) ? bad : `U+${(bad.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
    return `\`${shown}\` is not allowed; use only letters, digits and _ : . / * ? [ ] { } , ! + @ -`;
  }
  if (filter.includes("..")) return "`..` is not allowed";
  for (const [whole, body = ""] of filter.matchAll(/\[!?([^\]]*)\]/g)) {
    for (let index = 1; index + 1 < body.length; index += 1) {
      const [low = "", high = ""] = [body[index - 1], body[index + 1]];
      if (body[index] === "-" && low > high) return `the range \`${low}-${high}\` in \`${whole}\` runs backwards; write it low to high, e.g. [a-z]`;
    }
  }
  const parts = filter.split(":");
  if (parts.length > MAX_PARTS) {
    return `it has ${parts.length} ':'-separated parts; at most ${MAX_PARTS} (provider:target:name, or usdt:/path:provider:name)`;
  }
  const [provider = "", target] = parts;
  if (provider === "") return "it starts with `:`; name the provider first, e.g. tracepoint:";
  if (PATH_PROVIDERS.has(provider) && target !== undefined && target.includes("/") && !target.startsWith("/")) {
    return `the ${provider} binary path must be absolute (or a bare library name such as libc), e.g. uprobe:/usr/bin/bash:readline`;
  }
  return undefined;
}
