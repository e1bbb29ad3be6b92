// The program gate: tokenizes bpftrace source and decides, before anything is spawned, whether it may run.

import { checkDirectives } from "./directives.js";
import {
  CONFIG_TEXT,
  IMPORT_TEXT,
  INTERNAL_CALL,
  PREPROCESSOR_OPERATORS,
  bannedBuiltin,
  checkProbeSpecifier,
  lexicalText,
  lexicalViolation,
  preprocessorOperatorText,
  toViolation,
  type AllowFlag,
  type PolicyViolation,
  type RuleText,
} from "./rules.js";
import { tokenize, type StructureFacts, type Token } from "./tokenizer.js";
import { outline, type Outline } from "./outline.js";
import { checkOutline } from "./item-rules.js";
import { readSpecifier, type ProbeSpecifier } from "./probe-types.js";

export type { PolicyViolation } from "./rules.js";

/** The verdict on a program, plus the facts the server reports about it. */
export interface PolicyDecision {
  allowed: boolean;
  /** Every violation, in source order. */
  violations: PolicyViolation[];
  /** Header names as written, e.g. "linux/sched.h". */
  includes: string[];
  /** Top-level probe specifiers, as written. */
  probes: string[];
  /** The same, read: provider, context, target path. */
  specifiers: ProbeSpecifier[];
  /** Every function called in code (predicates and action blocks), in source order, once each. */
  calls: string[];
  /** Keys of config blocks, as written. */
  configKeys: string[];
  /** Map names used in code (`@` for the anonymous map), once each. */
  mapNames: string[];
  structure: StructureFacts;
  /** Where each probe item's predicate and body are: what instrument.ts edits (a few numbers a probe, cheap to pass between threads). */
  sites: ProbeSite[];
}

/** One top-level probe item, by character offsets into the program. */
export interface ProbeSite {
  specifiers: ProbeSpecifier[];
  /** Just after the predicate's opening `/` and at its closing `/`; null without a predicate. */
  predicate: { afterOpen: number; close: number } | null;
  /** The body's `{`, the offset just after it, and its closing `}`. */
  body: { open: number; afterOpen: number; close: number };
}

/** Operator settings for the gate. */
export interface PolicyOptions {
  /** Operator-only loosening; each flag loosens exactly the rule it names. */
  allow: ReadonlySet<AllowFlag>;
  maxBytes: number;
  maxLines: number;
  /** Whether the server's own user could read a file a uprobe/usdt names; absent: every path is refused. */
  canRead?: (path: string) => boolean;
  /** Whether the server's own user could read the file an `#include <name.h>` resolves to; absent: not checked. */
  canReadHeader?: (header: string) => boolean;
  /** Largest `max_strlen` a config block may set. */
  maxStrlen?: number;
}

type BlockKind = "top" | "action" | "definition" | "config";

const TYPE_KEYWORDS = new Set(["struct", "union", "enum"]);

const MACRO_OUTSIDE_CODE: RuleText = {
  rule: "define",
  reason: "a #define'd name in a probe specifier or outside code can expand into probes or config the policy cannot see",
  alternative: "use macros only in predicates and action blocks, and write probe specifiers literally",
};

/** Decides whether `program` may run: size limits, then every rule; all violations, in source order. */
export function checkProgram(program: string, options: PolicyOptions): PolicyDecision {
  const bytes = Buffer.byteLength(program, "utf8");
  if (bytes > options.maxBytes) {
    const text = sizeText(`the program is ${bytes} bytes; the limit is ${options.maxBytes}`);
    const problem = { line: 1, column: 1, message: "not analysed: the program exceeds the size limit" };
    const violations = [toViolation(text, `${bytes} bytes`, { line: 1, column: 1 })];
    const empty = { probes: [], specifiers: [], calls: [], configKeys: [], mapNames: [] };
    return { allowed: false, violations, includes: [], ...empty, structure: { balanced: false, problem }, sites: [] };
  }
  const violations: PolicyViolation[] = [];
  const lineCount = program.split("\n").length - (program.endsWith("\n") ? 1 : 0);
  if (lineCount > options.maxLines) {
    const text = sizeText(`the program has ${lineCount} lines; the limit is ${options.maxLines}`);
    violations.push(toViolation(text, `${lineCount} lines`, { line: options.maxLines + 1, column: 1 }));
  }
  const lexed = tokenize(program);
  violations.push(...lexed.issues.map(lexicalViolation));
  const directives = checkDirectives(
    lexed.tokens.filter((token) => token.kind === "directive"),
    options.allow,
    options.canReadHeader,
  );
  violations.push(...directives.violations);
  const codeTokens = lexed.tokens.filter((token) => token.kind !== "directive");
  const walk = new CodeWalk(options.allow, directives.macroNames);
  walk.run(codeTokens);
  violations.push(...walk.violations);
  const items = outline(codeTokens);
  const checked = checkOutline(codeTokens, items, { canRead: options.canRead ?? (() => false), maxStrlen: options.maxStrlen ?? 1024 });
  // Structure problems the lexer already reported (unbalanced, unterminated) need no second line.
  if (lexed.structure.balanced) violations.push(...checked.violations);
  else violations.push(...checked.violations.filter((violation) => violation.rule !== "structure"));
  const kept = dedupe(violations).filter((violation) => !(violation.rule === "include" && options.allow.has("include")));
  kept.sort((a, b) => a.line - b.line || a.column - b.column);
  return {
    allowed: kept.length === 0,
    violations: kept,
    includes: directives.includes,
    probes: checked.specifiers.map((specifier) => specifier.text),
    specifiers: checked.specifiers,
    calls: [...new Set(walk.calls)],
    configKeys: checked.configKeys,
    mapNames: [...new Set(walk.mapNames)],
    structure: lexed.structure,
    sites: probeSites(codeTokens, items),
  };
}

/** Text for the assistant, one line per violation with what to write instead; callers add their own heading. */
export function formatRefusal(decision: PolicyDecision): string {
  if (decision.allowed) return "The program passed the policy check.";
  return decision.violations
    .map(({ line, column, construct, reason, alternative }) => {
      const shown = construct.replaceAll("`", "'");
      return `line ${line}, column ${column}: \`${shown}\` — ${sentence(reason)} Instead: ${sentence(alternative)}`;
    })
    .join("\n");
}

function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function sizeText(reason: string): RuleText {
  return { rule: "size", reason, alternative: "split the investigation into smaller programs, or summarise in maps" };
}

function dedupe(violations: PolicyViolation[]): PolicyViolation[] {
  const seen = new Set<string>();
  return violations.filter(({ rule, line, column, construct }) => {
    const key = `${rule}:${line}:${column}:${construct}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** One pass over the code tokens, tracking block kinds to tell code from probes, struct bodies and config. */
class CodeWalk {
  readonly violations: PolicyViolation[] = [];
  readonly probes: string[] = [];
  readonly calls: string[] = [];
  readonly mapNames: string[] = [];
  private readonly blocks: { char: string; kind: BlockKind }[] = [];
  /** Top-level tokens since the last `;` or block, to classify the next top-level `{`. */
  private segment: Token[] = [];
  private pendingProbes: string[] = [];
  private pendingValid = true;
  private inPredicate = false;
  private offsetofDepth: number | undefined;

  constructor(
    private readonly allow: ReadonlySet<AllowFlag>,
    private readonly macroNames: ReadonlySet<string>,
  ) {}

  run(tokens: Token[]): void {
    tokens.forEach((token, index) => this.visit(token, tokens[index - 1], tokens[index + 1], tokens[index + 2]));
  }

  private add(text: RuleText, construct: string, at: Token): void {
    this.violations.push(toViolation(text, construct, at));
  }

  private kind(): BlockKind {
    return this.blocks.at(-1)?.kind ?? "top";
  }

  private visit(token: Token, prev: Token | undefined, next: Token | undefined, afterNext: Token | undefined): void {
    const topLevel = this.blocks.length === 0;
    if (topLevel) this.trackSegment(token);
    if (topLevel && !this.inPredicate && this.usesMacro(token)) this.add(MACRO_OUTSIDE_CODE, token.text, token);
    const nextIsParen = next?.kind === "punct" && next.text === "(";
    if (token.kind === "map" && this.kind() !== "definition" && this.kind() !== "config") this.mapNames.push(token.text);
    if (token.kind === "probe") {
      const refused = checkProbeSpecifier(token.text.replaceAll('"', ""));
      if (refused) this.add(refused, token.text, token);
      if (nextIsParen) this.add(lexicalText("probe-paren"), `${token.text}(`, token);
    } else if (token.kind === "number" && nextIsParen) {
      this.add(lexicalText("number-paren"), `${token.text}(`, token);
    } else if (token.kind === "ident") {
      this.identifier(token, prev, nextIsParen, next?.text === "=" && afterNext?.text !== "=");
    } else if (token.kind === "punct") {
      this.bracket(token);
    }
  }

  /** A #define'd name in a probe specifier or other top-level text, where newer bpftrace may expand it. */
  private usesMacro(token: Token): boolean {
    if (token.kind === "ident") return this.macroNames.has(token.text);
    return token.kind === "probe" && token.text.split(/[^A-Za-z0-9_]+/).some((part) => this.macroNames.has(part));
  }

  private identifier(token: Token, prev: Token | undefined, isCall: boolean, isAssigned: boolean): void {
    const name = token.text;
    const afterAccess = prev?.kind === "punct" && (prev.text === "." || prev.text === "->");
    const banned = bannedBuiltin(name, this.allow);
    if (banned) {
      // Bare names count in code only: not struct bodies, field names, type names, offsetof() fields or probes.
      const inCode = this.kind() !== "definition" && this.kind() !== "config" && !token.probePosition;
      const afterTypeKeyword = prev?.kind === "ident" && TYPE_KEYWORDS.has(prev.text);
      const bare = inCode && !afterAccess && !afterTypeKeyword && this.offsetofDepth === undefined;
      if (isCall || bare) {
        const reason = isCall ? banned.reason : `${banned.reason} (a bare \`${name}\` in code is read as a call)`;
        this.add({ rule: "builtin", reason, alternative: banned.safeAlternative }, isCall ? `${name}(` : name, token);
      }
    }
    if (afterAccess) return;
    if (isCall && this.kind() !== "definition" && this.kind() !== "config" && !token.probePosition) {
      this.calls.push(name);
      if (name.startsWith("__") && this.offsetofDepth === undefined) this.add(INTERNAL_CALL, `${name}(`, token);
    }
    if (PREPROCESSOR_OPERATORS.has(name)) this.add(preprocessorOperatorText(name), name, token);
    else if (name === "import") this.add(IMPORT_TEXT, name, token);
    // A top-level config block is read by item-rules (key by key); config assigned anywhere else is not bpftrace's.
    else if (name === "config" && this.blocks.length > 0 && isAssigned) this.add(CONFIG_TEXT, name, token);
    else if (name === "offsetof" && isCall && this.offsetofDepth === undefined) this.offsetofDepth = this.blocks.length;
  }

  private bracket(token: Token): void {
    const char = token.text;
    if (char === "{" || char === "(" || char === "[") {
      const kind = this.blocks.length === 0 && char === "{" ? this.openTopLevelBlock() : this.kind();
      this.blocks.push({ char, kind });
    } else if (char === "}" || char === ")" || char === "]") {
      this.blocks.pop();
      if (this.offsetofDepth !== undefined && this.blocks.length <= this.offsetofDepth) this.offsetofDepth = undefined;
      if (this.blocks.length === 0 && char === "}") this.resetSegment();
    }
  }

  /** Classifies a top-level `{` by what precedes it, committing the probes of an action block. */
  private openTopLevelBlock(): BlockKind {
    const first = this.segment[0]?.text ?? "";
    const kind: BlockKind = TYPE_KEYWORDS.has(first) ? "definition" : first === "config" ? "config" : "action";
    if (kind === "action" && this.pendingValid) this.probes.push(...this.pendingProbes);
    this.resetSegment();
    return kind;
  }

  /** Collects `probe[, probe] [/predicate/]` before a top-level `{`. */
  private trackSegment(token: Token): void {
    if (token.kind === "punct" && token.text === "{") return;
    if (token.kind === "punct" && token.text === ";") {
      this.resetSegment();
      return;
    }
    this.segment.push(token);
    if (this.inPredicate) return;
    if (token.kind === "probe" || (token.kind === "ident" && token.probePosition)) this.pendingProbes.push(token.text);
    else if (token.kind === "punct" && token.text === "/" && this.pendingProbes.length > 0) this.inPredicate = true;
    else if (!(token.kind === "punct" && token.text === ",")) this.pendingValid = false;
  }

  private resetSegment(): void {
    this.segment = [];
    this.pendingProbes = [];
    this.pendingValid = true;
    this.inPredicate = false;
  }
}

/** The probe items' edit points, from the tokens the outline indexes. */
function probeSites(tokens: Token[], items: Outline): ProbeSite[] {
  const sites: ProbeSite[] = [];
  const at = (index: number): Token => {
    const token = tokens[index];
    if (!token) throw new Error("outline points outside the tokens");
    return token;
  };
  for (const item of items.items) {
    if (item.kind !== "probe") continue;
    const bodyOpen = at(item.bodyOpen);
    sites.push({
      specifiers: item.specifiers.map((token) => readSpecifier(token.text)),
      predicate: item.predicate ? { afterOpen: at(item.predicate.open).end, close: at(item.predicate.close).offset } : null,
      body: { open: bodyOpen.offset, afterOpen: bodyOpen.end, close: at(item.bodyClose).offset },
    });
  }
  return sites;
}
