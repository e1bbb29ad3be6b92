// Preprocessor lines: which directives may appear, what an #include may name, and what a #define may expand to.
// bpftrace re-lexes a macro's body wherever its name appears, so a body gets the code rules and a few more.

import {
  ALLOWED_DIRECTIVES,
  CONFIG_TEXT,
  IMPORT_TEXT,
  INCLUDE_ALTERNATIVE,
  PREPROCESSOR_OPERATORS,
  bannedBuiltin,
  checkIncludeOperand,
  directiveText,
  lexicalViolation,
  preprocessorOperatorText,
  toViolation,
  type AllowFlag,
  type PolicyViolation,
  type RuleText,
} from "./rules.js";
import { tokenize, type Token } from "./tokenizer.js";

/** What the directive lines of a program add to the decision. */
export interface DirectiveFindings {
  violations: PolicyViolation[];
  /** Header names as written, refused ones included. */
  includes: string[];
  /** Every #define'd name, so the code walk can refuse macros where probes are expected. */
  macroNames: Set<string>;
}

const INCOMPLETE_BODY: RuleText = {
  rule: "define",
  reason: "a #define body must be complete on its own line (closed strings, comments and brackets)",
  alternative: "keep macros to simple constants, e.g. #define MAX_ENTRIES 1024",
};

const PASTING: RuleText = {
  rule: "define",
  reason: "`#` and `##` in a macro build new names and strings (e.g. J(c,at) → cat)",
  alternative: "write the full name or string literally",
};

const MACRO_PROBE: RuleText = {
  rule: "probe",
  reason: "this macro expands to a watchpoint or iterator probe",
  alternative: "write probes directly in the program; watchpoints and pinned iterators are refused",
};

const OPEN_COMMENT: RuleText = {
  rule: "preprocessor",
  reason: "a /* comment left open on a directive line makes clang join it with the next lines",
  alternative: "close the comment on the same line, or use //",
};

const MACRO_BODY: RuleText = {
  rule: "define",
  reason:
    "a #define may only give a name to a number or a string literal: bpftrace rebuilds other macro bodies by joining tokens, which can form calls and comments the policy never saw",
  alternative: "write #define NAME 1024 or #define NAME \"text\", or write the expression where it is used",
};

const MACRO_NAME: RuleText = {
  rule: "define",
  reason: "this macro name is a bpftrace keyword, builtin or probe type, or a name the server's own additions use (pid, curtask, elapsed, interval, …), which the macro would rewrite",
  alternative: "choose another name, e.g. #define MAX_ENTRIES 1024",
};

const FUNCTION_LIKE: RuleText = {
  rule: "define",
  reason: "function-like macros are refused: their expansion is built by joining tokens",
  alternative: "write the expression where it is used, or use a bpftrace map or variable",
};

// What a macro may expand to: nothing, a number, or one string literal, then at most a comment.
const LITERAL_BODY = /^[ \t]*(?:-?[ \t]*[0-9][0-9A-Za-z_]*|"(?:[^"\\\n]|\\.)*")?[ \t]*(?:\/\/.*|\/\*(?:(?!\*\/).)*\*\/[ \t]*)?$/;
// A C type for the headers clang reads (`#define __aligned_u64 unsigned long long`): joined without
// spaces these words can only form other type-like words, never a call or a comment.
const C_TYPE_WORDS = new Set([
  "unsigned", "signed", "char", "short", "int", "long", "void", "const", "volatile", "float", "double", "_Bool",
  ...["8", "16", "32", "64"].flatMap((bits) => [`__u${bits}`, `__s${bits}`, `u${bits}`, `s${bits}`, `uint${bits}_t`, `int${bits}_t`]),
]);
// Names a macro may not take: bpftrace's keywords, builtins and probe types, and every identifier
// in what the server adds to a program (src/policy/instrument.ts), which the macro would rewrite.
const RESERVED_MACRO_NAMES = new Set([
  "BEGIN", "END", "begin", "end", "self", "if", "else", "unroll", "while", "for", "return", "break", "continue",
  "let", "import", "config", "macro", "fn", "struct", "union", "enum", "sizeof", "offsetof", "typeof", "comptime",
  "pid", "tid", "uid", "gid", "nsecs", "elapsed", "numaddrs", "cpu", "ncpus", "comm", "kstack", "ustack", "func",
  "probe", "curtask", "rand", "cgroup", "cpid", "args", "ctx", "retval", "username", "jiffies", "usermode",
  "printf", "print", "time", "join", "str", "buf", "ksym", "usym", "kaddr", "uaddr", "kptr", "uptr", "reg",
  "exit", "cgroupid", "ntop", "pton", "strncmp", "strcontains", "sizeof", "clear", "zero", "delete", "count",
  "sum", "avg", "min", "max", "stats", "hist", "lhist", "has_key", "len", "macaddr", "path", "strftime",
  "bswap", "errorf", "warnf", "strerror", "signal_name", "syscall_name", "percpu_kaddr", "socket_cookie",
  "interval", "ms", "s", "us", "hz", "real_parent", "tgid", "uint64", "SIGUSR1", "signal",
  "tracepoint", "rawtracepoint", "kprobe", "kretprobe", "uprobe", "uretprobe", "usdt", "profile", "software",
  "hardware", "watchpoint", "asyncwatchpoint", "kfunc", "kretfunc", "fentry", "fexit", "iter",
  ...Array.from({ length: 10 }, (_, n) => `arg${n}`),
  ...Array.from({ length: 10 }, (_, n) => `sarg${n}`),
]);
const MACRO_NAME_FORM = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True for a body of C type words (and `*`), e.g. `unsigned long long` or `const char *`. */
function isCTypeBody(body: string): boolean {
  const words = body.replace(/\/\/.*$/, "").replace(/\*/g, " * ").trim().split(/\s+/);
  return words.length > 0 && words.some((word) => word !== "*") && words.every((word) => word === "*" || C_TYPE_WORDS.has(word));
}

const STRUCTURAL_ISSUES = new Set(["unterminated-string", "unterminated-comment", "unbalanced"]);
const WATCHPOINTS = new Set(["watchpoint", "asyncwatchpoint"]);
const SHORT_PROVIDERS = new Set(["w", "aw", "iter", "it"]);

/** Checks every directive token: the allowed set, #include operands, and #define names and bodies. */
export function checkDirectives(directives: Token[], allow: ReadonlySet<AllowFlag>, canReadHeader: (header: string) => boolean = () => true): DirectiveFindings {
  const findings: DirectiveFindings = { violations: [], includes: [], macroNames: new Set() };
  for (const directive of directives) checkDirective(directive, allow, findings, canReadHeader);
  return findings;
}

const UNREADABLE_HEADER: RuleText = {
  rule: "include",
  reason: "this header resolves to a file the server's own user cannot read (bpftrace, as root, could)",
  alternative: "include a header from the system include directories that any user can read, or declare the struct in the program",
};

function checkDirective(token: Token, allow: ReadonlySet<AllowFlag>, findings: DirectiveFindings, canReadHeader: (header: string) => boolean): void {
  const head = /^#[ \t]*([A-Za-z_][A-Za-z0-9_]*)?/.exec(token.text);
  const headLength = head?.[0].length ?? 1;
  const name = head?.[1] ?? "";
  const rest = token.text.slice(headLength);
  const restAt = { line: token.line, column: token.column + headLength };
  if (name === "include") {
    const checked = checkIncludeOperand(rest);
    findings.includes.push(checked.header);
    if (!checked.ok) {
      findings.violations.push(toViolation({ rule: "include", reason: checked.reason, alternative: INCLUDE_ALTERNATIVE }, token.text, token));
    } else if (!canReadHeader(checked.header)) {
      findings.violations.push(toViolation(UNREADABLE_HEADER, token.text, token));
    }
  } else if (!ALLOWED_DIRECTIVES.has(name)) {
    findings.violations.push(toViolation(directiveText(name), token.text, token));
  } else if (name === "define") {
    checkDefine(token, rest, restAt, allow, findings);
  } else if (opensComment(rest)) {
    // clang would read the following directive lines as part of this one; bpftrace ends it at the newline.
    findings.violations.push(toViolation(OPEN_COMMENT, token.text, token));
  } else if (name !== "error" && name !== "warning") {
    // #if, #ifdef, #undef…: only preprocessor operators and lexical tricks matter; #error text is free prose.
    const lexed = tokenize(rest, { macroBody: true, ...restAt });
    for (const issue of lexed.issues) if (!STRUCTURAL_ISSUES.has(issue.code)) findings.violations.push(lexicalViolation(issue));
    for (const body of lexed.tokens) {
      if (body.kind === "ident" && PREPROCESSOR_OPERATORS.has(body.text)) {
        findings.violations.push(toViolation(preprocessorOperatorText(body.text), body.text, body));
      }
    }
  }
}

function checkDefine(
  token: Token,
  rest: string,
  restAt: { line: number; column: number },
  allow: ReadonlySet<AllowFlag>,
  findings: DirectiveFindings,
): void {
  const head = /^[ \t]+([A-Za-z_][A-Za-z0-9_]*)(\([^)]*\))?/.exec(rest);
  const macroName = head?.[1];
  if (!head || macroName === undefined) {
    const text = { rule: "define", reason: "a #define needs a macro name", alternative: "write #define NAME value, e.g. #define TASK_COMM_LEN 16" };
    findings.violations.push(toViolation(text, token.text, token));
    return;
  }
  findings.macroNames.add(macroName);
  if (!MACRO_NAME_FORM.test(macroName) || RESERVED_MACRO_NAMES.has(macroName)) {
    findings.violations.push(toViolation(MACRO_NAME, macroName, token));
  }
  if (head[2] !== undefined) findings.violations.push(toViolation(FUNCTION_LIKE, `${macroName}${head[2]}`, token));
  const body = rest.slice(head[0].length);
  if (!LITERAL_BODY.test(body) && !isCTypeBody(body)) {
    findings.violations.push(toViolation(MACRO_BODY, body.trim() || macroName, token));
  }
  if (bannedBuiltin(macroName, allow)) {
    const text = { rule: "define", reason: `a macro named \`${macroName}\` shadows a refused builtin`, alternative: "choose another macro name" };
    findings.violations.push(toViolation(text, macroName, token));
  }
  const lexed = tokenize(body, { macroBody: true, line: restAt.line, column: restAt.column + head[0].length });
  for (const issue of lexed.issues) {
    const violation = STRUCTURAL_ISSUES.has(issue.code)
      ? toViolation(INCOMPLETE_BODY, body.trim(), issue)
      : lexicalViolation(issue);
    findings.violations.push(violation);
  }
  lexed.tokens.forEach((bodyToken, index) => {
    const text = bodyTokenRule(bodyToken, lexed.tokens[index + 1], allow);
    if (text) findings.violations.push(toViolation(text, bodyToken.text, bodyToken));
  });
}

// True when a block comment opens on this line and does not close on it.
function opensComment(text: string): boolean {
  const open = text.lastIndexOf("/*");
  return open !== -1 && text.indexOf("*/", open + 2) === -1;
}

/** Why one token of a #define body is refused, if it is. */
function bodyTokenRule(token: Token, next: Token | undefined, allow: ReadonlySet<AllowFlag>): RuleText | undefined {
  if (token.kind === "punct" && token.text.startsWith("#")) return PASTING;
  if (token.kind !== "ident") return undefined;
  const banned = bannedBuiltin(token.text, allow);
  if (banned) {
    return { rule: "define", reason: `this macro expands to \`${token.text}\`: ${banned.reason}`, alternative: banned.safeAlternative };
  }
  if (PREPROCESSOR_OPERATORS.has(token.text)) return preprocessorOperatorText(token.text);
  if (token.text === "config") return CONFIG_TEXT;
  if (token.text === "import") return IMPORT_TEXT;
  if (WATCHPOINTS.has(token.text) || (SHORT_PROVIDERS.has(token.text) && next?.text === ":")) return MACRO_PROBE;
  return undefined;
}
