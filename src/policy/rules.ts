// The policy's tables: what is refused, why, and what to write instead. Pure data plus small predicates.

import { describeChar, type LexIssue } from "./tokenizer.js";

/** Operator-only loosening of the policy; each flag loosens exactly the rule it names. */
export type AllowFlag = "cat" | "include";

/** A builtin that acts beyond observing: reads files, runs commands, signals, writes. */
export interface BannedBuiltin {
  reason: string;
  safeAlternative: string;
  /** The operator flag that re-enables it, if any. */
  allowFlag?: AllowFlag;
}

const UNSAFE = "it needs bpftrace's --unsafe mode, which this server never enables";
const NO_HELPERS = "not a bpftrace builtin today; refused in case a future bpftrace exposes this BPF helper by name";

/** Builtins refused by default. Checked as calls (`name(`), as bare identifiers in code, and in #define bodies. */
export const BANNED_BUILTINS: Readonly<Record<string, BannedBuiltin>> = {
  cat: {
    reason: "cat() prints the contents of any file, and bpftrace runs as root, so it can read /etc/shadow, keys and tokens",
    safeAlternative:
      'trace which files are opened, e.g. tracepoint:syscalls:sys_enter_openat { printf("%s %s\\n", comm, str(args->filename)); } (the operator can re-enable cat with the `cat` allow flag)',
    allowFlag: "cat",
  },
  system: {
    reason: `system() runs a shell command as root; ${UNSAFE}`,
    safeAlternative: "print the facts you need with printf() or maps and let the user run commands",
  },
  signal: {
    reason: `signal() sends a signal to the traced process (it can kill or stop any process); ${UNSAFE}`,
    safeAlternative: "observe signals instead: tracepoint:signal:signal_generate or tracepoint:syscalls:sys_enter_kill",
  },
  signal_thread: {
    reason: `signal_thread() sends a signal to the traced thread; ${UNSAFE}`,
    safeAlternative: "observe signals instead: tracepoint:signal:signal_generate",
  },
  override: {
    reason: `override() changes a kernel function's return value (error injection); ${UNSAFE}`,
    safeAlternative: "observe the return value with kretprobe:/fexit: and retval",
  },
  skboutput: {
    reason: "skboutput() writes packet data to a file path chosen by the program, as root",
    safeAlternative: "summarise packets with maps or printf() (lengths, ntop() addresses, ports)",
  },
  skb_output: {
    reason: "skb_output() writes packet data to a file path chosen by the program, as root",
    safeAlternative: "summarise packets with maps or printf() (lengths, ntop() addresses, ports)",
  },
  debugf: {
    reason: "debugf() writes to the kernel's shared trace_pipe, which this server does not read and other tools share",
    safeAlternative: "use printf(); its output is returned to you",
  },
  unwatch: {
    reason: "unwatch() manages hardware watchpoints, and watchpoint probes are refused (they stop the traced process)",
    safeAlternative: "use a uprobe or kprobe on the code that changes the value",
  },
  send_signal: { reason: NO_HELPERS, safeAlternative: "observe signals with tracepoint:signal:signal_generate" },
  bpf_send_signal: { reason: NO_HELPERS, safeAlternative: "observe signals with tracepoint:signal:signal_generate" },
  bpf_send_signal_thread: { reason: NO_HELPERS, safeAlternative: "observe signals with tracepoint:signal:signal_generate" },
  override_return: { reason: NO_HELPERS, safeAlternative: "observe return values with kretprobe:/fexit: and retval" },
  bpf_override_return: { reason: NO_HELPERS, safeAlternative: "observe return values with kretprobe:/fexit: and retval" },
  bpf_send_signal_task: { reason: `${NO_HELPERS} (a kfunc that signals any task)`, safeAlternative: "observe signals with tracepoint:signal:signal_generate" },
  bpf_sock_destroy: { reason: `${NO_HELPERS} (a kfunc that closes sockets)`, safeAlternative: "observe sockets with tracepoint:sock:inet_sock_set_state" },
  probe_write_user: { reason: `${NO_HELPERS} (it writes user memory)`, safeAlternative: "read memory with str() or buf()" },
  bpf_probe_write_user: { reason: `${NO_HELPERS} (it writes user memory)`, safeAlternative: "read memory with str() or buf()" },
};

/** Calls of bpftrace's internal names (0.25+ stdlib: `__signal`, `__builtin_*`) skip checks its public builtins make. */
export const INTERNAL_CALL: RuleText = {
  rule: "builtin",
  reason: "names starting with __ are bpftrace's internal functions and macros (e.g. __signal behind signal()), which skip checks the public builtins make",
  alternative: "call the public builtin (printf, str, count, …) instead",
};

/** The banned entry for `name`, unless absent or re-enabled by an allow flag. */
export function bannedBuiltin(name: string, allow: ReadonlySet<AllowFlag>): BannedBuiltin | undefined {
  if (!Object.hasOwn(BANNED_BUILTINS, name)) return undefined;
  const entry = BANNED_BUILTINS[name];
  if (entry?.allowFlag !== undefined && allow.has(entry.allowFlag)) return undefined;
  return entry;
}

/** Preprocessor operators that probe the file system or inject pragmas from inside expressions. */
export const PREPROCESSOR_OPERATORS: ReadonlySet<string> = new Set([
  "__has_include",
  "__has_include_next",
  "__has_embed",
  "_Pragma",
]);

/** Directives a tracing program may use; anything else (#pragma, #line, #import, #include_next, #embed…) is refused. */
export const ALLOWED_DIRECTIVES: ReadonlySet<string> = new Set([
  "include", "define", "undef", "if", "ifdef", "ifndef", "elif", "else", "endif", "error", "warning",
]);

const REFUSED_DIRECTIVE_REASONS: Readonly<Record<string, string>> = {
  include_next: "#include_next searches the include path differently; only #include <header.h> is allowed",
  import: "#import is another include form; only #include <header.h> is allowed",
  embed: "#embed reads the bytes of a file into the program",
  pragma: "#pragma changes how clang compiles the program",
  line: "#line rewrites the file and line numbers shown in errors, which misleads review",
};

/** Why a directive outside ALLOWED_DIRECTIVES is refused. */
export function directiveText(name: string): RuleText {
  const allowed = [...ALLOWED_DIRECTIVES].map((directive) => `#${directive}`).join(", ");
  const reason = REFUSED_DIRECTIVE_REASONS[name] ?? (name ? `#${name} is not an allowed directive` : "a `#` that starts no known directive");
  return { rule: "preprocessor", reason, alternative: `use only ${allowed}` };
}

/** Why `__has_include`, `_Pragma` and friends are refused. */
export function preprocessorOperatorText(name: string): RuleText {
  const reason = `${name} lets the preprocessor probe the file system or inject pragmas`;
  return { rule: "preprocessor", reason, alternative: "remove it; test macros with #ifdef instead" };
}

/** Why bpftrace's `import` statement is refused. */
export const IMPORT_TEXT: RuleText = {
  rule: "import",
  reason: "import loads bpftrace code from other files, which this server cannot review",
  alternative: "paste the needed code into the program itself",
};

/** Why any config block is refused. */
export const CONFIG_TEXT: RuleText = {
  rule: "config",
  reason: "a config block changes bpftrace's limits and safety settings (unsafe, max_strlen, max_map_keys, perf_rb_pages, log_size, …)",
  alternative: "remove the config block; the server sets the limits (ask the operator if one is too small)",
};

/** What to write instead of a refused #include. */
export const INCLUDE_ALTERNATIVE =
  "include kernel headers by relative name in angle brackets, e.g. #include <linux/sched.h> or #include <net/sock.h>";

/** Result of reading the operand of an #include directive. */
export type IncludeCheck = { ok: true; header: string } | { ok: false; header: string; reason: string };

/** Only `<relative/name.h>` is allowed: no quoted form, absolute path, `..` or macro-expanded operand. */
export function checkIncludeOperand(operand: string): IncludeCheck {
  const trimmed = operand.replace(/\/\/.*$/, "").replace(/\/\*.*?\*\//g, " ").trim();
  const angle = /^<([^>]*)>$/.exec(trimmed);
  const quoted = /^"([^"]*)"$/.exec(trimmed);
  const header = angle?.[1] ?? quoted?.[1] ?? trimmed;
  if (quoted) return { ok: false, header, reason: 'the quoted form #include "…" can read files relative to the server' };
  if (!angle) return { ok: false, header, reason: "only a literal <header.h> operand is allowed (no macros or extra text)" };
  if (header.startsWith("/")) return { ok: false, header, reason: "absolute header paths can read any file as root" };
  if (header.includes("..")) return { ok: false, header, reason: "`..` can escape the include directories" };
  if (!/^[A-Za-z0-9_/.-]+\.h$/.test(header)) {
    return { ok: false, header, reason: "a header name must match [A-Za-z0-9_/.-]+ and end in .h" };
  }
  return { ok: true, header };
}

/** How a rule is explained to the assistant. */
export interface RuleText {
  rule: string;
  reason: string;
  alternative: string;
}

/** One refused construct, with where it is, why, and what to write instead. */
export interface PolicyViolation extends RuleText {
  construct: string;
  line: number;
  column: number;
}

const MAX_CONSTRUCT = 60;

/** Builds a violation; the construct is shortened and invisible characters shown as U+XXXX. */
export function toViolation(text: RuleText, construct: string, at: { line: number; column: number }): PolicyViolation {
  const visible = Array.from(construct, (char) => (/^[\x20-\x7e]$/.test(char) ? char : describeChar(char))).join("");
  const shown = visible.length > MAX_CONSTRUCT ? `${visible.slice(0, MAX_CONSTRUCT - 1)}…` : visible;
  return { rule: text.rule, construct: shown, line: at.line, column: at.column, reason: text.reason, alternative: text.alternative };
}

/** The violation for a problem the tokenizer found. */
export function lexicalViolation(issue: LexIssue): PolicyViolation {
  return toViolation(lexicalText(issue.code), issue.construct, issue);
}

/** The text for a tokenizer issue code. */
export function lexicalText(code: string): RuleText {
  return LEXICAL_RULES[code] ?? { rule: "syntax", reason: `unexpected construct (${code})`, alternative: "rewrite the program" };
}

const REWRITE = "rewrite the program without it";

/** Texts for problems the tokenizer found, keyed by its issue code. */
export const LEXICAL_RULES: Readonly<Record<string, RuleText>> = {
  nul: { rule: "character", reason: "NUL bytes are not allowed anywhere", alternative: REWRITE },
  control: {
    rule: "character",
    reason: "control characters (other than tab and newline) can hide code from a reviewer",
    alternative: "use \\t, \\n or \\x escapes inside strings instead of raw control characters",
  },
  bidi: {
    rule: "character",
    reason: "bidirectional-text controls reorder how code is displayed (Trojan Source)",
    alternative: "remove the invisible direction characters",
  },
  "non-ascii": {
    rule: "character",
    reason: "non-ASCII characters outside strings and comments are look-alikes or invisible characters, not bpftrace code",
    alternative: "write identifiers and operators in plain ASCII",
  },
  "char-literal": {
    rule: "character",
    reason: "bpftrace has no character literals, and a quote the preprocessor reads differently hides code",
    alternative: "use the numeric code (e.g. 65 for 'A') or a double-quoted string",
  },
  backslash: {
    rule: "character",
    reason: "a backslash is only meaningful inside a string literal",
    alternative: 'quote paths with special characters, e.g. uprobe:"/opt/my app/bin":main',
  },
  continuation: {
    rule: "continuation",
    reason: "a backslash at the end of a line joins lines (the preprocessor can glue `ca\\` + `t` into `cat`)",
    alternative: "write each statement and directive on its own line without a trailing backslash",
  },
  trigraph: {
    rule: "preprocessor",
    reason: "trigraphs (??/ ??= …) are rewritten by the C preprocessor and can hide code",
    alternative: "write the intended character directly",
  },
  digraph: {
    rule: "preprocessor",
    reason: "digraphs (%: <% <: …) are rewritten by the C preprocessor into #, { or [",
    alternative: "write #, {, }, [ or ] directly",
  },
  "directive-mid-line": {
    rule: "preprocessor",
    reason: "a preprocessor directive must start its own line",
    alternative: "put each #include/#define on a separate line before the probes",
  },
  "unterminated-string": { rule: "structure", reason: "unterminated string literal", alternative: "close the string with \" on the same line" },
  "unterminated-comment": { rule: "structure", reason: "unterminated /* comment", alternative: "close the comment with */" },
  unbalanced: { rule: "structure", reason: "unbalanced brackets", alternative: "balance every {, ( and [" },
  "probe-comment": {
    rule: "syntax",
    reason: "comment markers inside a probe specifier are read differently by different bpftrace versions",
    alternative: "separate comments and predicates from the probe with a space, e.g. kprobe:vfs_read /pid == 42/ {",
  },
  "probe-keyword": {
    rule: "syntax",
    reason: "struct/union/enum inside a probe specifier switches bpftrace's lexer into C mode",
    alternative: "use a probe name without those words, or a wildcard",
  },
  "probe-paren": {
    rule: "syntax",
    reason: "a probe specifier cannot be followed by `(`",
    alternative: "write probe, optional /predicate/, then the { action block }",
  },
  "number-paren": {
    rule: "syntax",
    reason: "a number cannot be followed by `(` (the tokens around it would be read as a call)",
    alternative: "add the missing operator",
  },
  "struct-comment": {
    rule: "syntax",
    reason:
      "bpftrace copies struct/union/enum text raw to clang, so a comment or string in a cast, or one holding { or } in a definition, is read differently by the two",
    alternative: "move the comment outside the struct definition or cast",
  },
};

/** Rejects probe kinds that act on the traced process or outlive the session. */
export function checkProbeSpecifier(spec: string): RuleText | undefined {
  const parts = spec.split(":");
  const provider = parts[0] ?? "";
  if (["watchpoint", "asyncwatchpoint", "w", "aw"].includes(provider)) {
    return {
      rule: "probe",
      reason: "watchpoint probes set hardware breakpoints in a process and the synchronous form stops it with SIGSTOP",
      alternative: "use a uprobe/kprobe on the code that changes the value",
    };
  }
  if ((provider === "iter" || provider === "it") && parts.length > 2) {
    return {
      rule: "probe",
      reason: "a pinned iterator (iter:NAME:PIN) leaves a BPF program in /sys/fs/bpf after the session ends",
      alternative: "use the iterator without a pin, e.g. iter:task { … }",
    };
  }
  return undefined;
}
