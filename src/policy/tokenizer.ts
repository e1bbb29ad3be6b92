// A small lexer for bpftrace source, modelled on bpftrace's own (flex) lexer. Where bpftrace and the C
// preprocessor could read the same text differently, it reports an issue instead of guessing.

export type TokenKind = "ident" | "map" | "var" | "number" | "string" | "punct" | "probe" | "directive";

/** One token; comments are skipped but positions (1-based) stay those of the original source. */
export interface Token {
  kind: TokenKind;
  /** The source text; for a directive, the whole line from `#` (without the newline). */
  text: string;
  line: number;
  column: number;
  /** Index of the token's first character in the source, and one past its last. */
  offset: number;
  end: number;
  /** An identifier or probe specifier read where a top-level probe may start. */
  probePosition: boolean;
}

/** Something the lexer refuses to guess about; `code` keys LEXICAL_RULES. */
export interface LexIssue {
  code: string;
  construct: string;
  line: number;
  column: number;
}

export interface StructureFacts {
  balanced: boolean;
  problem?: { line: number; column: number; message: string };
}

export interface TokenizeResult {
  tokens: Token[];
  issues: LexIssue[];
  structure: StructureFacts;
}

/** `macroBody` lexes the body of a #define (one line, at `line`/`column` of the program). */
export interface TokenizeOptions {
  macroBody?: boolean;
  line?: number;
  column?: number;
  /** Offset of `source` within the program, for token offsets. */
  offset?: number;
}

// Character classes as tests on char codes: a 64 KiB program is lexed in a few milliseconds.
const IDENT_START = charClass((code) => (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95);
const IDENT_CHAR = charClass((code) => IDENT_START.has(code) || (code >= 48 && code <= 57));
const PROBE_CHAR = charClass((code) => IDENT_CHAR.has(code) || ".:/*?[]+-$!".includes(String.fromCharCode(code)));
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/;

/** The ASCII codes for which `member` holds, as a set with a `test(char)` for one-character strings. */
function charClass(member: (code: number) => boolean): { has(code: number): boolean; test(char: string): boolean } {
  const table = new Uint8Array(128);
  for (let code = 0; code < 128; code += 1) table[code] = member(code) ? 1 : 0;
  return {
    has: (code) => code < 128 && table[code] === 1,
    test: (char) => {
      const code = char.charCodeAt(0);
      return code < 128 && table[code] === 1;
    },
  };
}
const TRIGRAPH_LAST = "=/'()!<>-";
// Only these trigraphs can change what a comment or string hides: ??/ is a backslash (it continues a
// // comment onto the next line) and ??= at the start of a line is a # (a directive). Any trigraph in code is refused.
const LINE_START_TRIGRAPH = /^[ \t]*$/;
const CLOSERS: Readonly<Record<string, string>> = { ")": "(", "]": "[", "}": "{" };
const C_MODE_KEYWORDS = new Set(["struct", "union", "enum"]);

/** Splits bpftrace source into tokens, collecting issues and bracket structure on the way. */
export function tokenize(source: string, options: TokenizeOptions = {}): TokenizeResult {
  return new Lexer(source, options).run();
}

/** A backslash that the C preprocessor would read as joining this line with the next. */
function isContinuation(src: string, at: number): boolean {
  const continuation = /\\[ \t]*\r?\n/y; // sticky: matches only at `at`
  continuation.lastIndex = at;
  return continuation.test(src);
}

/** Readable name for a character in messages, e.g. `U+202E`. */
export function describeChar(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  if (code >= 0x20 && code < 0x7f) return char;
  return `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

class Lexer {
  private readonly tokens: Token[] = [];
  private readonly issues: LexIssue[] = [];
  private readonly stack: { char: string; line: number; column: number }[] = [];
  private problem: StructureFacts["problem"];
  private i = 0;
  private line: number;
  private lineStart = 0;
  private lineHasToken = false;
  private probePosition = true;
  /** Open while bpftrace's lexer would be copying raw C text (after struct/union/enum). */
  private cMode: { depth: number; braced: boolean } | undefined;

  constructor(
    private readonly src: string,
    private readonly options: TokenizeOptions,
  ) {
    this.line = options.line ?? 1;
  }

  run(): TokenizeResult {
    if (!this.options.macroBody) this.scanCharacters();
    while (this.i < this.src.length) this.step();
    const open = this.stack.at(-1);
    if (open && !this.problem) this.fail(open.line, open.column, `\`${open.char}\` is never closed`, "unbalanced", open.char);
    const structure: StructureFacts = { balanced: this.problem === undefined };
    if (this.problem) structure.problem = this.problem;
    return { tokens: this.tokens, issues: this.issues, structure };
  }

  private column(at = this.i): number {
    const base = this.line === (this.options.line ?? 1) ? (this.options.column ?? 1) : 1;
    return at - this.lineStart + base;
  }

  private issue(code: string, construct: string, at = this.i): void {
    this.issues.push({ code, construct, line: this.line, column: this.column(at) });
  }

  private fail(line: number, column: number, message: string, code: string, construct: string): void {
    this.problem ??= { line, column, message };
    this.issues.push({ code, construct, line, column });
  }

  /** Characters refused wherever they appear, strings and comments included. */
  private scanCharacters(): void {
    let line = 1;
    let lineStart = 0;
    const at = (index: number, code: string, construct: string): void => {
      this.issues.push({ code, construct, line, column: index - lineStart + 1 });
    };
    for (let k = 0; k < this.src.length; k++) {
      const char = this.src[k] ?? "";
      const code = char.charCodeAt(0);
      if (char === "\n") {
        line++;
        lineStart = k + 1;
      } else if (code === 0) at(k, "nul", "U+0000");
      else if (char === "\r" && this.src[k + 1] !== "\n") at(k, "control", "U+000D");
      else if ((code < 0x20 && char !== "\t" && char !== "\r") || code === 0x7f) at(k, "control", describeChar(char));
      else if (code >= 0x61c && BIDI.test(char)) at(k, "bidi", describeChar(char));
      else if (char === "?" && this.src[k + 1] === "?" && this.dangerousTrigraph(k, lineStart)) {
        at(k, "trigraph", this.src.slice(k, k + 3));
      } else if (char === "\\" && isContinuation(this.src, k)) at(k, "continuation", "\\");
    }
  }

  /** `??/` anywhere, or `??=` opening a line: the two trigraphs that can change what bpftrace and clang see. */
  private dangerousTrigraph(at: number, lineStart: number): boolean {
    const last = this.src[at + 2];
    if (last === "/") return true;
    return last === "=" && LINE_START_TRIGRAPH.test(this.src.slice(lineStart, at));
  }

  private push(kind: TokenKind, text: string, start: number, probePosition = false): void {
    const offset = start + (this.options.offset ?? 0);
    this.tokens.push({ kind, text, line: this.line, column: this.column(start), offset, end: offset + text.length, probePosition });
    this.lineHasToken = true;
  }

  private newline(at: number): void {
    this.line++;
    this.lineStart = at + 1;
    this.lineHasToken = false;
  }

  private step(): void {
    const src = this.src;
    const start = this.i;
    const char = src[start] ?? "";
    const next = src[start + 1] ?? "";
    if (char === "\n") {
      this.newline(start);
      this.i++;
    } else if (char === " " || char === "\t" || char === "\r" || char.charCodeAt(0) < 0x20) this.i++;
    else if (char === "/" && next === "*") this.blockComment();
    else if (char === "/" && next === "/") this.lineComment();
    else if (char === '"' && this.atProbeStart()) this.identOrProbe();
    else if (char === '"') this.string();
    else if (char === "#") this.hash();
    else if (IDENT_START.test(char)) this.identOrProbe();
    else if (char === "@" || char === "$") this.variable(char);
    else if (char >= "0" && char <= "9") {
      this.i = this.scanWhile(start + 1, IDENT_CHAR);
      this.significant("number", src.slice(start, this.i), start);
    } else if (char === "'") {
      this.issue("char-literal", "'");
      this.i++;
    } else if (char === "\\") {
      if (!isContinuation(src, start)) this.issue("backslash", "\\"); // continuations were reported by scanCharacters
      this.i++;
    } else if (char.charCodeAt(0) >= 0x80) {
      const wide = String.fromCodePoint(src.codePointAt(start) ?? 0);
      if (!BIDI.test(wide)) this.issue("non-ascii", describeChar(wide));
      this.i += wide.length;
    } else this.punct(char, next, start);
  }

  private blockComment(): void {
    const end = this.src.indexOf("*/", this.i + 2);
    const stop = end === -1 ? this.src.length : end + 2;
    this.checkCMode(this.src.slice(this.i, stop), "/*");
    if (end === -1) this.fail(this.line, this.column(), "unterminated /* comment", "unterminated-comment", "/*");
    for (let k = this.i; k < stop; k++) if (this.src[k] === "\n") this.newline(k);
    this.i = stop;
  }

  private lineComment(): void {
    const end = this.src.indexOf("\n", this.i);
    // At end of input without a newline, bpftrace 0.17 lexes `//` as two `/` tokens: always a syntax error there.
    this.checkCMode(this.src.slice(this.i, end === -1 ? undefined : end), "//");
    this.i = end === -1 ? this.src.length : end;
  }

  private string(): void {
    const start = this.i;
    let k = start + 1;
    while (k < this.src.length && this.src[k] !== '"' && this.src[k] !== "\n") {
      k += this.src[k] === "\\" && this.src[k + 1] !== "\n" ? 2 : 1; // a newline always ends the line, escaped or not
    }
    if (this.src[k] !== '"') {
      this.fail(this.line, this.column(start), "unterminated string literal", "unterminated-string", '"');
      this.i = Math.min(k, this.src.length);
      return;
    }
    this.i = k + 1;
    this.checkCMode(this.src.slice(start, this.i), '"', start);
    this.significant("string", this.src.slice(start, this.i), start);
  }

  /**
   * bpftrace copies struct/union/enum text raw, counting braces and stopping at `*` or `)` before the
   * body, while clang skips comments and strings: refuse any comment or string where the two could differ.
   */
  private checkCMode(text: string, construct: string, at = this.i): void {
    if (this.cMode && (!this.cMode.braced || /[{}]/.test(text))) this.issue("struct-comment", construct, at);
  }

  private hash(): void {
    const start = this.i;
    if (this.options.macroBody) {
      const text = this.src[start + 1] === "#" ? "##" : "#";
      this.i += text.length;
      this.significant("punct", text, start);
      return;
    }
    const end = this.src.indexOf("\n", start);
    const stop = end === -1 ? this.src.length : end;
    if (!(this.column(start) === 1 && this.src[start + 1] === "!")) {
      if (this.lineHasToken) this.issue("directive-mid-line", "#", start);
      this.push("directive", this.src.slice(start, stop).replace(/\r$/, ""), start);
    }
    this.i = stop; // a `#!` line at column 1 is bpftrace's shebang comment
  }

  /** Where bpftrace's grammar lets a probe specifier start: top level, after a block, `,` or `;`. */
  private atProbeStart(): boolean {
    return this.probePosition && this.stack.length === 0 && !this.options.macroBody;
  }

  private identOrProbe(): void {
    const start = this.i;
    const identEnd = this.scanWhile(start, IDENT_CHAR);
    if (this.atProbeStart()) {
      const runEnd = this.probeRun(start);
      const run = this.src.slice(start, runEnd);
      if (run.includes(":") || (this.src[start] === '"' && run.length > 0)) {
        const unquoted = run.replace(/"[^"]*"/g, '""');
        if (/\/\/|\/\*|\*\//.test(unquoted)) this.issue("probe-comment", run, start);
        if (unquoted.split(/[^A-Za-z0-9_]+/).some((part) => C_MODE_KEYWORDS.has(part))) {
          this.issue("probe-keyword", run, start);
        }
        this.i = runEnd;
        this.significant("probe", run, start, true);
        return;
      }
    }
    if (identEnd === start) {
      this.string(); // a quote at probe position that opens no probe specifier: an ordinary (bad) string
      return;
    }
    const text = this.src.slice(start, identEnd);
    this.i = identEnd;
    this.significant("ident", text, start, this.probePosition && this.stack.length === 0);
    if (C_MODE_KEYWORDS.has(text) && !this.cMode) this.cMode = { depth: this.stack.length, braced: false };
  }

  /** The end of a probe specifier: probe characters and "quoted" parts, up to whitespace, `,`, `{` or `(`. */
  private probeRun(start: number): number {
    let k = start;
    while (k < this.src.length) {
      const char = this.src[k] ?? "";
      if (char === '"') {
        const close = this.src.indexOf('"', k + 1);
        const newline = this.src.indexOf("\n", k + 1);
        if (close === -1 || (newline !== -1 && newline < close)) break;
        k = close + 1;
      } else if (PROBE_CHAR.test(char)) k++;
      else break;
    }
    return k;
  }

  private variable(sigil: string): void {
    const start = this.i;
    let end = this.scanWhile(start + 1, IDENT_CHAR);
    if (sigil === "$" && end === start + 1 && this.src[end] === "#") end++;
    this.i = end;
    this.significant(sigil === "@" ? "map" : "var", this.src.slice(start, end), start);
  }

  private punct(char: string, next: string, start: number): void {
    if (char === "?" && next === "?" && TRIGRAPH_LAST.includes(this.src[start + 2] ?? "x")) this.issue("trigraph", this.src.slice(start, start + 3));
    if (char === "%" && next === ":") this.issue("digraph", "%:");
    else if (this.options.macroBody && /^(<%|%>|<:|:>)$/.test(char + next)) this.issue("digraph", char + next);
    const text = char === "-" && next === ">" ? "->" : char;
    this.i += text.length;
    if (char === "(" || char === "[" || char === "{") {
      this.stack.push({ char, line: this.line, column: this.column(start) });
      if (char === "{" && this.cMode && this.stack.length === this.cMode.depth + 1) this.cMode.braced = true;
    } else if (char in CLOSERS) {
      const open = this.stack.pop();
      if (open?.char !== CLOSERS[char]) {
        const message = open ? `\`${char}\` does not match \`${open.char}\` opened at line ${open.line}` : `unexpected \`${char}\``;
        this.fail(this.line, this.column(start), message, "unbalanced", char);
        if (open) this.stack.push(open);
      }
    }
    if (this.cMode) {
      const cMode = this.cMode;
      const closedBraces = char === "}" && cMode.braced && this.stack.length === cMode.depth;
      const endsType = !cMode.braced && (char === "*" || char === ")");
      if (closedBraces || endsType || this.stack.length < cMode.depth) this.cMode = undefined;
    }
    this.significant("punct", text, start);
  }

  /** Emits a token and updates whether a top-level probe may start next. */
  private significant(kind: TokenKind, text: string, start: number, probePosition = false): void {
    this.push(kind, text, start, probePosition);
    const topLevel = this.stack.length === 0;
    this.probePosition = kind === "punct" && topLevel && (text === "}" || text === "," || text === ";");
  }

  private scanWhile(from: number, chars: { has(code: number): boolean }): number {
    let k = from;
    while (k < this.src.length && chars.has(this.src.charCodeAt(k))) k++;
    return k;
  }
}
