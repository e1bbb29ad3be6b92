// bpftrace's own reading of a program: its AST after macro expansion, from a dump that never attaches.
// 0.17–0.24 print an indented tree ("call: printf"); 0.25+ print the AST back as canonical source.

import type { BpftraceHost } from "./host.js";
import type { VersionTraits } from "./version.js";

/** One AST node, normalised across dump formats: `kind` is "call", "binop", "name", "int", "map", …; `label` its name, operator or value. */
export interface AstNode {
  kind: string;
  label: string;
  children: AstNode[];
}

/** One probe as bpftrace parsed it. */
export interface ParsedProbe {
  /** Attach points as printed (0.17–0.24 normalise them; 0.25+ print them as written). */
  specifiers: string[];
  /** The predicate's expression (0.25+: the condition of a body that is one `if … else { return; }`, which is what bpftrace turns a predicate into). */
  predicate: AstNode | null;
  /** Function names called in the predicate and body, once each. */
  calls: string[];
}

/** What bpftrace itself parsed: the facts the policy's own reading must agree with. */
export interface ParsedView {
  probes: ParsedProbe[];
  /** Every function called anywhere (probes, functions, top-level statements), once each. */
  calls: string[];
  configKeys: string[];
  mapNames: string[];
  /** The dump stage the view was read from, e.g. "parser" or "CMacroExpansion". */
  stage: string;
}

/** Reads the AST dump of `bpftrace -d` / `-d ast --dry-run`; null when no post-macro-expansion stage was printed. */
export function parseAstDump(text: string): ParsedView | null {
  const stages = splitStages(text);
  // The last of a name: a stage header forged inside a printed C definition or comment can only come earlier.
  const stage = (name: string): Stage | undefined => stages.findLast((candidate) => candidate.name === name);
  // 0.17–0.24: the tree after "parser" is already macro-expanded (macros are expanded while lexing, after clang ran).
  const tree = stage("parser");
  if (tree?.lines.includes("Program")) return { ...readTree(tree.lines), stage: "parser" };
  // 0.25+: C macros are expanded by a pass of their own, after probes were split by type; the
  // printer then shows only the first of a split probe, so attach points are read before the split.
  const expanded = stage("CMacroExpansion");
  const written = stage("MacroExpansion");
  if (!expanded || !written) return null;
  const view = readSource(expanded.lines.join("\n"));
  const before = readSource(written.lines.join("\n"));
  if (!view || !before) return null;
  const probes = before.probes.map((probe) => {
    const calls = new Set(view.probes.filter((split) => split.specifiers.every((specifier) => probe.specifiers.includes(specifier))).flatMap((split) => split.calls));
    return { ...probe, calls: [...calls] };
  });
  return { ...view, probes, stage: "CMacroExpansion" };
}

/** bpftrace arguments that print the post-expansion AST and stop before attaching (or running BEGIN). */
export function dumpArgs(traits: Pick<VersionTraits, "dryRun">): string[] {
  // 0.22+: `-d` alone needs a stage and then goes on to attach; --dry-run stops after codegen.
  return traits.dryRun === "dry-run-flag" ? ["-d", "ast", "--dry-run"] : ["-d"];
}

/** Runs the dump for `program` on this host and reads it; null when bpftrace printed no usable AST. */
export async function readParsedView(host: BpftraceHost, program: string): Promise<ParsedView | null> {
  const ready = await host.ensureReady();
  const source = program.endsWith("\n") ? program : `${program}\n`;
  const result = await host.run([...dumpArgs(ready.traits), "-e", source], 60_000);
  if (result.timedOut) return null;
  // 0.17–0.24 print the AST on stdout, 0.25+ on stderr; each stream holds the whole of its dump.
  return parseAstDump(result.stdout) ?? parseAstDump(result.stderr);
}

interface Stage {
  name: string;
  lines: string[];
}

const STAGE_HEADER = /^AST after: (.+)$/;

function splitStages(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const line of text.split("\n")) {
    const header = STAGE_HEADER.exec(line);
    if (header) stages.push({ name: header[1] ?? "", lines: [] });
    else if (stages.length > 0 && !(stages.at(-1)?.lines.length === 0 && /^-+$/.test(line))) stages.at(-1)?.lines.push(line);
  }
  return stages;
}

// ---------------------------------------------------------------- the indented tree (0.17–0.24)

interface Facts {
  calls: Set<string>;
  maps: Set<string>;
}

// " :: type[none, ctx: 0]" (0.17) and " :: [int64]" (0.23) end a node's line once types are known.
const TYPE_SUFFIX = / :: (?:type)?\[[^\]]*\]$/;
const LABELLED = /^(int|string|builtin|identifier|call|map|variable|param|config var|stack_mode|sizeof|offsetof): ?(.*)$/;
const KIND_NAMES: Record<string, string> = { builtin: "name", identifier: "name", "config var": "config-var" };

function readTree(lines: string[]): Omit<ParsedView, "stage"> {
  // C definitions are printed raw before the tree; the tree starts at the last bare "Program" line and ends at a blank line.
  const start = lines.lastIndexOf("Program");
  const end = lines.findIndex((line, index) => index > start && line.trim() === "");
  const body = lines.slice(start + 1, end === -1 ? undefined : end);
  const roots = buildTree(body);
  const probes: ParsedProbe[] = [];
  const configKeys: string[] = [];
  const all: Facts = { calls: new Set(), maps: new Set() };
  let pending: string[] = [];
  for (const root of roots) {
    if (root.kind === "config") {
      root.children.forEach((assignment) => assignment.children.forEach((child) => child.kind === "config-var" && configKeys.push(child.label)));
      continue;
    }
    collect(root, all);
    // A probe's attach points are consecutive lines; the last carries the predicate and statements.
    pending.push(root.kind);
    if (root.children.length === 0) continue;
    const facts: Facts = { calls: new Set(), maps: new Set() };
    root.children.forEach((child) => collect(child, facts));
    const pred = root.children.find((child) => child.kind === "pred");
    probes.push({ specifiers: pending, predicate: pred?.children[0] ?? null, calls: [...facts.calls] });
    pending = [];
  }
  if (pending.length > 0) probes.push({ specifiers: pending, predicate: null, calls: [] });
  return { probes, calls: [...all.calls], configKeys, mapNames: [...all.maps] };
}

function buildTree(lines: string[]): AstNode[] {
  const roots: AstNode[] = [];
  const stack: { depth: number; node: AstNode }[] = [];
  for (const line of lines) {
    const depth = line.length - line.trimStart().length;
    const node = treeNode(line.trim().replace(TYPE_SUFFIX, ""));
    while (stack.length > 0 && (stack.at(-1)?.depth ?? 0) >= depth) stack.pop();
    (stack.at(-1)?.node.children ?? roots).push(node);
    stack.push({ depth, node });
  }
  return roots.map(normaliseTree);
}

function treeNode(text: string): AstNode {
  const labelled = LABELLED.exec(text);
  if (labelled) {
    const kind = labelled[1] ?? "";
    return { kind: KIND_NAMES[kind] ?? kind, label: labelled[2] ?? "", children: [] };
  }
  return { kind: text, label: "", children: [] };
}

const TREE_OPERATORS = new Set(["||", "&&", "|", "^", "&", "==", "!=", "<", ">", "<=", ">=", "<<", ">>", "+", "-", "*", "/", "%", "!", "~"]);

/** Gives tree nodes the kinds the source reader produces: binop/unop, field, index, ternary. */
function normaliseTree(node: AstNode): AstNode {
  const children = node.children.map(normaliseTree);
  if (TREE_OPERATORS.has(node.kind)) return { kind: children.length === 2 ? "binop" : "unop", label: node.kind, children };
  if (node.kind === "." || node.kind === "->") {
    const field = children.at(-1);
    return { kind: "field", label: field?.kind ?? "", children: children.slice(0, -1) };
  }
  if (node.kind === "dereference") return { kind: "unop", label: "*", children };
  if (node.kind === "[]") return { kind: "index", label: "", children };
  if (node.kind === "?:") return { kind: "ternary", label: "", children };
  return { ...node, children };
}

function collect(node: AstNode, facts: Facts): void {
  if (node.kind === "call") facts.calls.add(node.label);
  if (node.kind === "map") facts.maps.add(node.label);
  node.children.forEach((child) => collect(child, facts));
}

// ---------------------------------------------------------------- canonical source (0.25+)

interface SourceToken {
  kind: "ident" | "number" | "string" | "map" | "variable" | "punct" | "directive" | "specifier";
  text: string;
  /** Offset of the token's line start in the stage text, and whether the token is the line's first. */
  lineStart: number;
  first: boolean;
}

const PUNCTUATION = ["<<=", ">>=", "...", "->", "++", "--", "&&", "||", "==", "!=", "<=", ">=", "<<", ">>", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "::"];
// What a top-level line can start with other than an attach point.
const TOP_LEVEL_WORDS = /^(?:#|\{|\}|\/|struct\b|union\b|enum\b|config\b|import\b|fn\b|macro\b|let\b|(?:stdin|-):\d+:\d+)/;

/**
 * Lexes bpftrace's printed source. Attach points are printed as written, one a line, and may hold
 * `/*` or `//` (paths, globs): outside blocks, a line that starts with nothing else is one token.
 */
function lexSource(text: string, startDepth = 0): SourceToken[] {
  const tokens: SourceToken[] = [];
  let index = 0;
  let lineStart = 0;
  let first = true;
  let depth = startDepth;
  const push = (kind: SourceToken["kind"], end: number): void => {
    tokens.push({ kind, text: text.slice(index, end), lineStart, first });
    first = false;
    index = end;
  };
  while (index < text.length) {
    const char = text[index] ?? "";
    const rest = text.slice(index, index + 3);
    const afterSpecifier = tokens.at(-1)?.kind === "specifier";
    if (char === "\n") {
      index += 1;
      lineStart = index;
      first = true;
    } else if (first && depth === 0 && index === lineStart && !TOP_LEVEL_WORDS.test(text.slice(index, index + 40)) && /\S/.test(char)) {
      push("specifier", endOf(text, "\n", index));
    } else if (first && depth === 0 && char === "/" && afterSpecifier && !isCommentLine(text, index)) {
      push("punct", index + 1); // a predicate; "/*x" here is a dereference, not a comment
    } else if (/\s/.test(char)) index += 1;
    else if (rest.startsWith("//")) index = endOf(text, "\n", index);
    else if (rest.startsWith("/*")) {
      const close = text.indexOf("*/", index + 2);
      index = close === -1 ? text.length : close + 2;
    } else if (char === "#" && first) push("directive", endOfDirective(text, index));
    else if (char === '"') push("string", endOfString(text, index));
    else if (/[A-Za-z_]/.test(char)) push("ident", matchEnd(text, index, /[A-Za-z0-9_]*/y, 1));
    else if (/[0-9]/.test(char)) push("number", matchEnd(text, index, /[0-9A-Za-z_.']*/y, 1));
    else if (char === "@") push("map", matchEnd(text, index, /[A-Za-z0-9_]*/y, 1));
    else if (char === "$") push("variable", matchEnd(text, index, /(?:[A-Za-z0-9_]+|#)?/y, 1));
    else {
      if (char === "{") depth += 1;
      if (char === "}") depth = Math.max(0, depth - 1);
      push("punct", index + (PUNCTUATION.find((punct) => rest.startsWith(punct))?.length ?? 1));
    }
  }
  return tokens;
}

/** After attach points, "/* … *\/{" is a comment before the block and "/*x …/" a predicate that dereferences. */
function isCommentLine(text: string, index: number): boolean {
  if (text[index + 1] === "/") return true;
  if (text[index + 1] !== "*") return false;
  const line = text.slice(index, endOf(text, "\n", index));
  const close = line.indexOf("*/", 2);
  return close !== -1 && /^\s*\{?\s*$/.test(line.slice(close + 2));
}

function endOf(text: string, needle: string, from: number): number {
  const found = text.indexOf(needle, from);
  return found === -1 ? text.length : found;
}

function endOfDirective(text: string, from: number): number {
  let end = endOf(text, "\n", from);
  while (text[end - 1] === "\\" && end < text.length) end = endOf(text, "\n", end + 1);
  return end;
}

function endOfString(text: string, from: number): number {
  let index = from + 1;
  while (index < text.length && text[index] !== '"' && text[index] !== "\n") index += text[index] === "\\" ? 2 : 1;
  return Math.min(index + 1, text.length);
}

function matchEnd(text: string, from: number, pattern: RegExp, skip: number): number {
  pattern.lastIndex = from + skip;
  const match = pattern.exec(text);
  return from + skip + (match?.[0].length ?? 0);
}

// Names followed by `(` that are syntax, not calls.
const NOT_CALLS = new Set(["if", "while", "for", "unroll", "return", "sizeof", "offsetof", "typeof", "typeinfo", "comptime", "else", "let"]);

function readSource(text: string): Omit<ParsedView, "stage"> | null {
  const tokens = lexSource(text);
  const probes: ParsedProbe[] = [];
  const configKeys: string[] = [];
  const all: Facts = { calls: new Set(), maps: new Set() };
  let index = 0;
  while (index < tokens.length) {
    const token = tokens[index];
    if (!token) break;
    const word = token.text;
    if (token.kind === "directive") index += 1;
    else if (token.first && /^(?:stdin|-):\d+:\d+/.test(text.slice(token.lineStart, token.lineStart + 40))) break; // diagnostics follow the last stage
    else if (word === "struct" || word === "union" || word === "enum") index = skipDefinition(tokens, index);
    else if (word === "config" && tokens[index + 1]?.text === "=") index = readConfig(tokens, index + 2, configKeys);
    else if (word === "import") index = skipPast(tokens, index, ";");
    else if (word === "fn" || word === "macro" || word === "let") index = readStatementLike(tokens, index, all);
    else if (token.kind === "specifier") {
      const probe = readProbe(tokens, index, all);
      if (!probe) return null;
      probes.push(probe.probe);
      index = probe.next;
    } else return null;
  }
  return { probes, calls: [...all.calls], configKeys, mapNames: [...all.maps] };
}

function skipDefinition(tokens: SourceToken[], from: number): number {
  let index = from;
  while (index < tokens.length && tokens[index]?.text !== "{" && tokens[index]?.text !== ";") index += 1;
  if (tokens[index]?.text === "{") index = matching(tokens, index) + 1;
  return tokens[index]?.text === ";" ? index + 1 : index;
}

function skipPast(tokens: SourceToken[], from: number, text: string): number {
  let index = from;
  while (index < tokens.length && tokens[index]?.text !== text) index += 1;
  return index + 1;
}

/** Index of the bracket closing the one at `open`. */
function matching(tokens: SourceToken[], open: number): number {
  let depth = 0;
  for (let index = open; index < tokens.length; index += 1) {
    const text = tokens[index]?.text;
    if (text === "{" || text === "(" || text === "[") depth += 1;
    else if (text === "}" || text === ")" || text === "]") depth -= 1;
    if (depth === 0) return index;
  }
  return tokens.length - 1;
}

function readConfig(tokens: SourceToken[], open: number, keys: string[]): number {
  const close = matching(tokens, open);
  for (let index = open + 1; index < close; index += 1) {
    if (tokens[index]?.kind === "ident" && tokens[index + 1]?.text === "=" && tokens[index - 1]?.text !== "=") keys.push(tokens[index]?.text ?? "");
  }
  return close + 1;
}

/** `fn name(…): type { … }`, `macro name(…) { … }` or `let @m = hash(…);`: their calls count, nothing else. */
function readStatementLike(tokens: SourceToken[], from: number, all: Facts): number {
  let index = from + 1;
  while (index < tokens.length && tokens[index]?.text !== "{" && tokens[index]?.text !== ";") index += 1;
  const end = tokens[index]?.text === "{" ? matching(tokens, index) : index;
  scan(tokens.slice(from + 2, end + 1), all);
  return end + 1;
}

function scan(tokens: SourceToken[], facts: Facts): void {
  tokens.forEach((token, index) => {
    if (token.kind === "map") facts.maps.add(token.text);
    const next = tokens[index + 1];
    const afterAccess = tokens[index - 1]?.text === "." || tokens[index - 1]?.text === "->";
    if (token.kind === "ident" && next?.text === "(" && !NOT_CALLS.has(token.text) && !afterAccess) facts.calls.add(token.text);
  });
}

function readProbe(tokens: SourceToken[], from: number, all: Facts): { probe: ParsedProbe; next: number } | null {
  const specifiers: string[] = [];
  let index = from;
  while (tokens[index]?.kind === "specifier") {
    const line = (tokens[index]?.text ?? "").replace(/\s+\/\/.*$/, "").replace(/\s*\/\*.*?\*\/\s*/g, " ");
    specifiers.push(line.trim().replace(/,$/, ""));
    index += 1;
  }
  let predicate: AstNode | null = null;
  const facts: Facts = { calls: new Set(), maps: new Set() };
  if (tokens[index]?.text === "/") {
    const parser = new ExpressionParser(tokens, index + 1, true);
    predicate = parser.expression();
    index = parser.index;
    if (tokens[index]?.text !== "/") return null;
    scan(tokens.slice(from, index), facts);
    index += 1;
  }
  if (tokens[index]?.text !== "{") return null;
  const close = matching(tokens, index);
  const body = tokens.slice(index, close + 1);
  scan(body, facts);
  predicate ??= loweredPredicate(body);
  facts.calls.forEach((call) => all.calls.add(call));
  facts.maps.forEach((map) => all.maps.add(map));
  return { probe: { specifiers, predicate, calls: [...facts.calls] }, next: close + 1 };
}

/** `{ if (COND) { … } else { return; } }`: 0.25+'s lowering of a predicate, read back as COND. */
function loweredPredicate(body: SourceToken[]): AstNode | null {
  if (body[1]?.text !== "if" || body[2]?.text !== "(") return null;
  const close = matching(body, 2);
  const thenClose = body[close + 1]?.text === "{" ? matching(body, close + 1) : -1;
  const tail = body.slice(thenClose + 1).map((token) => token.text).join(" ");
  if (thenClose === -1 || tail !== "else { return ; } }") return null;
  const parser = new ExpressionParser(body, 3, false);
  const condition = parser.expression();
  return parser.index === close ? condition : null;
}

const BINARY_PRECEDENCE: Record<string, number> = {
  "||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6, "<": 7, ">": 7, "<=": 7, ">=": 7,
  "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10,
};
const UNARY = new Set(["!", "~", "-", "*", "&", "++", "--"]);
const CAST_TYPES = /^(?:u?int(?:8|16|32|64)|bool|struct|union|enum|string|inet|buffer|void|char|short|int|long|unsigned|signed)$/;

/** Precedence climbing over the canonical source bpftrace prints; enough for predicates and conditions. */
export class ExpressionParser {
  constructor(
    private readonly tokens: SourceToken[],
    public index: number,
    /** In a predicate a `/` followed by `{` closes it rather than dividing. */
    private readonly inPredicate: boolean,
  ) {}

  expression(): AstNode {
    const condition = this.binary(1);
    if (this.peek() !== "?") return condition;
    this.index += 1;
    const whenTrue = this.expression();
    this.index += 1; // ":"
    return { kind: "ternary", label: "", children: [condition, whenTrue, this.expression()] };
  }

  private peek(offset = 0): string | undefined {
    return this.tokens[this.index + offset]?.text;
  }

  private binary(minimum: number): AstNode {
    let left = this.unary();
    for (;;) {
      const operator = this.peek() ?? "";
      const precedence = BINARY_PRECEDENCE[operator];
      if (precedence === undefined || precedence < minimum) return left;
      if (operator === "/" && this.inPredicate && this.peek(1) === "{") return left;
      this.index += 1;
      left = { kind: "binop", label: operator, children: [left, this.binary(precedence + 1)] };
    }
  }

  private unary(): AstNode {
    const operator = this.peek() ?? "";
    if (UNARY.has(operator)) {
      this.index += 1;
      return { kind: "unop", label: operator, children: [this.unary()] };
    }
    return this.postfix(this.primary());
  }

  private postfix(start: AstNode): AstNode {
    let node = start;
    for (;;) {
      const next = this.peek();
      if ((next === "." || next === "->") && this.tokens[this.index + 1]) {
        this.index += 2;
        node = { kind: "field", label: this.tokens[this.index - 1]?.text ?? "", children: [node] };
      } else if (next === "[" && node.kind !== "map") {
        node = { kind: "index", label: "", children: [node, ...this.list("[", "]")] };
      } else if (next === "++" || next === "--") {
        this.index += 1;
        node = { kind: "unop", label: `${next}post`, children: [node] };
      } else return node;
    }
  }

  private list(open: string, close: string): AstNode[] {
    const items: AstNode[] = [];
    if (this.peek() !== open) return items;
    this.index += 1;
    while (this.index < this.tokens.length && this.peek() !== close) {
      items.push(this.expression());
      if (this.peek() === ",") this.index += 1;
      else if (this.peek() !== close) break;
    }
    this.index += 1;
    return items;
  }

  private primary(): AstNode {
    const token = this.tokens[this.index];
    if (!token) return { kind: "none", label: "", children: [] };
    if (token.text === "(" && this.peek(1) === "{") {
      // `({ … })`: a block expression; its own statements are not an expression we read.
      const close = matching(this.tokens, this.index);
      const inner = this.tokens.slice(this.index + 2, close - 1).map((part) => part.text).join(" ");
      this.index = close + 1;
      return { kind: "block", label: inner, children: [] };
    }
    if (token.text === "(") {
      const close = matching(this.tokens, this.index);
      if (CAST_TYPES.test(this.peek(1) ?? "") && this.tokens.slice(this.index + 1, close).every((part) => part.kind === "ident" || part.text === "*")) {
        const type = this.tokens.slice(this.index + 1, close).map((part) => part.text).join(" ");
        this.index = close + 1;
        return { kind: "cast", label: type, children: [this.unary()] };
      }
      const items = this.list("(", ")");
      return items.length === 1 && items[0] ? items[0] : { kind: "tuple", label: "", children: items };
    }
    this.index += 1;
    if (token.kind === "number") return { kind: "int", label: token.text, children: [] };
    if (token.kind === "string") return { kind: "string", label: token.text.slice(1, -1), children: [] };
    if (token.kind === "variable") return { kind: token.text.startsWith("$") && /^\$(?:\d+|#)$/.test(token.text) ? "param" : "variable", label: token.text, children: [] };
    if (token.kind === "map") return { kind: "map", label: token.text, children: this.list("[", "]") };
    if (token.kind === "ident" && this.peek() === "(") return { kind: "call", label: token.text, children: this.list("(", ")") };
    return { kind: "name", label: token.text, children: [] };
  }
}

/** Parses an expression written as bpftrace source into the same shape `parseAstDump` gives predicates. */
export function parseExpression(text: string): AstNode {
  return new ExpressionParser(lexSource(text, 1), 0, false).expression();
}

/** Whether two nodes are the same expression. */
export function sameNode(a: AstNode, b: AstNode): boolean {
  return a.kind === b.kind && a.label === b.label && a.children.length === b.children.length && a.children.every((child, index) => sameNode(child, b.children[index] as AstNode));
}
