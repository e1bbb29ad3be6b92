import { describe, expect, it } from "vitest";

import { checkProbeFilter } from "../../src/policy/index.js";

const VALID: { name: string; filter: string }[] = [
  { name: "a tracepoint glob", filter: "tracepoint:syscalls:*open*" },
  { name: "a bare search word", filter: "*sleep*" },
  { name: "a uprobe on an absolute library path", filter: "uprobe:/lib/x86_64-linux-gnu/libc.so.6:getaddrinfo" },
  { name: "brace alternatives", filter: "kprobe:vfs_{read,write}" },
  { name: "a character class", filter: "tracepoint:sched:sched_[sw]*" },
  { name: "a negated character class", filter: "kprobe:tcp_[!r]*" },
  { name: "a class with ranges and a literal dash", filter: "kprobe:tcp_[a-c0-9-]*" },
  { name: "a usdt probe with path, provider and name", filter: "usdt:/usr/bin/python3:python:function__entry" },
  { name: "a uprobe on a bare library name", filter: "uprobe:libc:malloc" },
  { name: "a kprobe with a module", filter: "kprobe:ext4:ext4_file_*" },
  { name: "a single-character wildcard", filter: "kprobe:vfs_rea?" },
  { name: "a software event", filter: "software:*" },
  { name: "a filter of exactly 512 characters", filter: `kprobe:${"a".repeat(505)}` },
];

const INVALID: { name: string; filter: string; says: RegExp }[] = [
  { name: "an output option", filter: "-o/tmp/x", says: /starts with `-`/ },
  { name: "a character range that runs backwards", filter: "kprobe:[z-a]*", says: /range `z-a` in `\[z-a\]` runs backwards/ },
  { name: "the unsafe option", filter: "--unsafe", says: /starts with `-`/ },
  { name: "a command option with a space", filter: "-c id", says: /starts with `-`/ },
  { name: "two words", filter: "a b", says: /whitespace or a control character at position 2/ },
  { name: "a newline smuggling an option", filter: "x\n-o", says: /whitespace or a control character at position 2/ },
  { name: "a tab", filter: "kprobe:\tvfs_read", says: /whitespace/ },
  { name: "command substitution", filter: "$(id)", says: /`\$` is not allowed/ },
  { name: "a command separator", filter: ";id", says: /`;` is not allowed/ },
  { name: "backticks", filter: "`id`", says: /``` is not allowed/ },
  { name: "a pipe", filter: "kprobe:*|sh", says: /`\|` is not allowed/ },
  { name: "a redirect", filter: "kprobe:*>x", says: /`>` is not allowed/ },
  { name: "quotes", filter: "'kprobe:*'", says: /`'` is not allowed/ },
  { name: "a relative uprobe path escaping with ..", filter: "uprobe:../../etc:x", says: /`\.\.` is not allowed/ },
  { name: "an absolute uprobe path with ..", filter: "uprobe:/usr/lib/../../etc/shadow:*", says: /`\.\.` is not allowed/ },
  { name: "a relative uprobe path", filter: "uprobe:bin/bash:readline", says: /must be absolute/ },
  { name: "a relative usdt path", filter: "usdt:./app:provider:probe", says: /must be absolute/ },
  { name: "an empty filter", filter: "", says: /it is empty/ },
  { name: "10k characters", filter: "k".repeat(10_000), says: /10000 characters long; the limit is 512/ },
  { name: "a NUL byte", filter: "kprobe:vfs\0read", says: /control character at position 11/ },
  { name: "a non-ASCII look-alike", filter: "kprobe:vfs_r\u0435ad", says: /`U\+0435` is not allowed/ },
  { name: "too many parts", filter: "a:b:c:d:e", says: /5 ':'-separated parts; at most 4/ },
  { name: "no provider", filter: ":syscalls:*", says: /name the provider first/ },
];

describe("checkProbeFilter", () => {
  it.each(VALID)("accepts $name", ({ filter }) => {
    expect(checkProbeFilter(filter)).toEqual({ ok: true });
  });

  it.each(INVALID)("refuses $name", ({ filter, says }) => {
    const result = checkProbeFilter(filter);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toMatch(says);
  });

  it("explains what a valid filter looks like", () => {
    const result = checkProbeFilter("-l");
    expect(result).toEqual({ ok: false, reason: expect.stringContaining("tracepoint:syscalls:*open*") });
  });

  it("has at least 20 table rows", () => {
    expect(VALID.length + INVALID.length).toBeGreaterThanOrEqual(20);
  });
});
