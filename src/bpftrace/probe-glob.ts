// bpftrace probe globs: their tokens, and a matcher that takes time linear in the name for each
// piece of the glob (never the backtracking of a RegExp, where "t?*?*?*?*?*?*?*?*!" took minutes).

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|/]/g;

/** A glob split into what it is made of: literal runs, `*`, `?`, `[...]` classes, `{a,b}` braces. */
export type GlobToken =
  | { kind: "literal"; text: string }
  | { kind: "star" }
  | { kind: "any" }
  | { kind: "class"; body: string }
  | { kind: "brace"; alternatives: string[] };

/** Index of the "]" closing a class opened at `open`, or -1; "]" first in the class is literal. */
function findClassEnd(glob: string, open: number): number {
  let index = open + 1;
  if (glob[index] === "!" || glob[index] === "^") index += 1;
  if (glob[index] === "]") index += 1;
  return glob.indexOf("]", index);
}

/** Index of the "}" closing a brace opened at `open` (nesting counted), or -1. */
function findBraceEnd(glob: string, open: number): number {
  let depth = 0;
  for (let index = open; index < glob.length; index += 1) {
    if (glob[index] === "{") depth += 1;
    else if (glob[index] === "}" && --depth === 0) return index;
  }
  return -1;
}

/** Splits brace contents on top-level commas. */
function splitAlternatives(inner: string): string[] {
  const alternatives: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < inner.length; index += 1) {
    const char = inner[index];
    if (char === "{") depth += 1;
    else if (char === "}") depth -= 1;
    else if (char === "," && depth === 0) {
      alternatives.push(inner.slice(start, index));
      start = index + 1;
    }
  }
  alternatives.push(inner.slice(start));
  return alternatives;
}

/** The tokens of a glob; an unclosed "[" or "{" is a literal character, repeated "*" one star. */
export function tokenizeGlob(glob: string): GlobToken[] {
  const tokens: GlobToken[] = [];
  let literal = "";
  const push = (token: GlobToken): void => {
    if (literal !== "") tokens.push({ kind: "literal", text: literal });
    literal = "";
    tokens.push(token);
  };
  for (let index = 0; index < glob.length; index += 1) {
    const char = glob[index] ?? "";
    if (char === "*") {
      if (glob[index - 1] !== "*") push({ kind: "star" });
    } else if (char === "?") push({ kind: "any" });
    else if (char === "[" && findClassEnd(glob, index) > index) {
      const end = findClassEnd(glob, index);
      push({ kind: "class", body: glob.slice(index + 1, end) });
      index = end;
    } else if (char === "{" && findBraceEnd(glob, index) > index) {
      const end = findBraceEnd(glob, index);
      push({ kind: "brace", alternatives: splitAlternatives(glob.slice(index + 1, end)) });
      index = end;
    } else literal += char;
  }
  if (literal !== "") tokens.push({ kind: "literal", text: literal });
  return tokens;
}

/** A glob without its leading and trailing "*", which become open ends of the match. */
export function splitOpenEnds(glob: string): { openStart: boolean; openEnd: boolean; core: string } {
  return { openStart: glob.startsWith("*"), openEnd: glob.endsWith("*"), core: glob.replace(/^\*+/, "").replace(/\*+$/, "") };
}

function classToSource(body: string): string {
  const negated = body.startsWith("!") || body.startsWith("^");
  const members = (negated ? body.slice(1) : body).replace(/[\\\]^[]/g, "\\$&");
  return `[${negated ? "^" : ""}${members}]`;
}

function tokensToSource(tokens: readonly GlobToken[]): string {
  let source = "";
  for (const token of tokens) {
    if (token.kind === "star") source += ".*?";
    else if (token.kind === "any") source += ".";
    else if (token.kind === "class") source += classToSource(token.body);
    else if (token.kind === "brace") source += `(?:${token.alternatives.map((alternative) => tokensToSource(tokenizeGlob(alternative))).join("|")})`;
    else source += token.text.replace(REGEX_SPECIAL, "\\$&");
  }
  return source;
}

/**
 * A RegExp testing whole probe names against a bpftrace wildcard (`*`, `?`, `[a-z]`, `[!a]`, `{a,b}`).
 * For callers that want one; matchProbes never runs it (a RegExp backtracks: exponential time).
 */
export function probeGlobToRegExp(glob: string): RegExp {
  const { openStart, openEnd, core } = splitOpenEnds(glob);
  // "s": "." also crosses newlines, so the open ends match exactly what "^.*" and ".*$" would.
  return new RegExp(`${openStart ? "" : "^"}(?:${tokensToSource(tokenizeGlob(core))})${openEnd ? "" : "$"}`, "s");
}

/** Character class members as code-unit ranges [low, high, low, high, ...], as the RegExp reads them. */
interface CharClass {
  negated: boolean;
  ranges: Int32Array;
}

function parseClass(body: string): CharClass {
  const negated = body.startsWith("!") || body.startsWith("^");
  const members = negated ? body.slice(1) : body;
  const ranges: number[] = [];
  for (let index = 0; index < members.length; ) {
    const low = members.charCodeAt(index);
    // "a-z" is a range; a "-" first, last or right after a range is itself.
    if (members[index + 1] === "-" && index + 2 < members.length) {
      ranges.push(low, members.charCodeAt(index + 2));
      index += 3;
    } else {
      ranges.push(low, low);
      index += 1;
    }
  }
  return { negated, ranges: Int32Array.from(ranges) };
}

function inClass(charClass: CharClass, code: number): boolean {
  const { ranges } = charClass;
  let member = false;
  for (let index = 0; index < ranges.length && !member; index += 2) member = code >= ranges[index]! && code <= ranges[index + 1]!;
  return member !== charClass.negated;
}

/** What one position of a glob accepts: a code unit (>= 0), any (ANY), or a class (an index into `classes`, as CLASS_BASE - index). */
const ANY = -1;
const CLASS_BASE = -2;

/** A run of fixed-width pieces between stars. */
interface Segment {
  codes: Int32Array;
}

function accepts(classes: readonly CharClass[], wanted: number, code: number): boolean {
  if (wanted >= 0) return wanted === code;
  if (wanted === ANY) return true;
  return inClass(classes[CLASS_BASE - wanted]!, code);
}

function segmentAt(classes: readonly CharClass[], segment: Segment, name: string, at: number): boolean {
  const { codes } = segment;
  for (let index = 0; index < codes.length; index += 1) if (!accepts(classes, codes[index]!, name.charCodeAt(at + index))) return false;
  return true;
}

/**
 * The test for a glob without braces: runs of fixed-width pieces joined by stars. Each run between
 * two stars is taken at its first place after the one before (that leaves the most room for the
 * rest, so no later place can match where it did not): at most name length × glob length steps.
 */
function segmentTest(tokens: readonly GlobToken[], openStart: boolean, openEnd: boolean): (name: string) => boolean {
  const classes: CharClass[] = [];
  const segments: Segment[] = [];
  let codes: number[] = [];
  for (const token of tokens) {
    if (token.kind === "literal") for (let index = 0; index < token.text.length; index += 1) codes.push(token.text.charCodeAt(index));
    else if (token.kind === "any") codes.push(ANY);
    else if (token.kind === "class") codes.push(CLASS_BASE - (classes.push(parseClass(token.body)) - 1));
    else {
      segments.push({ codes: Int32Array.from(codes) });
      codes = [];
    }
  }
  segments.push({ codes: Int32Array.from(codes) });
  const first = segments[0]!;
  const last = segments[segments.length - 1]!;
  const anchoredStart = !openStart;
  const anchoredEnd = !openEnd;
  // One segment anchored at both ends: the name is exactly its length.
  if (segments.length === 1 && anchoredStart && anchoredEnd) return (name) => name.length === first.codes.length && segmentAt(classes, first, name, 0);
  const middle = segments.slice(anchoredStart ? 1 : 0, anchoredEnd ? -1 : undefined);
  const fixedLength = segments.reduce((sum, segment) => sum + segment.codes.length, 0);
  return (name) => {
    if (name.length < fixedLength) return false;
    let from = 0;
    let end = name.length;
    if (anchoredStart) {
      if (!segmentAt(classes, first, name, 0)) return false;
      from = first.codes.length;
    }
    if (anchoredEnd) {
      end -= last.codes.length;
      if (end < from || !segmentAt(classes, last, name, end)) return false;
    }
    for (const segment of middle) {
      const length = segment.codes.length;
      let at = from;
      while (at + length <= end && !segmentAt(classes, segment, name, at)) at += 1;
      if (at + length > end) return false;
      from = at + length;
    }
    return true;
  };
}

/** Brace expansions beyond this many brace-free globs are matched by the automaton instead. */
const MAX_EXPANSIONS = 64;

/** The brace-free globs a glob with braces stands for ("{a,b}*c" → "a*c", "b*c"), or null past MAX_EXPANSIONS. */
function expandBraces(tokens: readonly GlobToken[]): GlobToken[][] | null {
  let expanded: GlobToken[][] = [[]];
  for (const token of tokens) {
    if (token.kind !== "brace") {
      for (const glob of expanded) glob.push(token);
      continue;
    }
    const alternatives: GlobToken[][] = [];
    for (const alternative of token.alternatives) {
      const inner = expandBraces(tokenizeGlob(alternative));
      if (inner === null) return null;
      alternatives.push(...inner);
    }
    if (expanded.length * alternatives.length > MAX_EXPANSIONS) return null;
    expanded = expanded.flatMap((glob) => alternatives.map((alternative) => [...glob, ...alternative]));
  }
  return expanded;
}

const CHAR_STATE = 0;
const STAR_STATE = 1;
const SPLIT_STATE = 2;
const MATCH_STATE = 3;

/**
 * The test for a glob with too many brace expansions: a nondeterministic automaton (one state per
 * glob piece, continuations after a brace shared) run over the name with a set of live states,
 * never backtracking: at most name length × states steps.
 */
function automatonTest(tokens: readonly GlobToken[], openStart: boolean, openEnd: boolean): (name: string) => boolean {
  const classes: CharClass[] = [];
  const kinds: number[] = [MATCH_STATE];
  const wanted: number[] = [0];
  const nexts: number[] = [0];
  /** The targets of each split state, by the index held in `nexts`. */
  const splits: number[][] = [];
  const add = (kind: number, code: number, next: number): number => {
    kinds.push(kind);
    wanted.push(code);
    return nexts.push(next) - 1;
  };
  // Built from the end backwards: each piece knows the state that follows it.
  const build = (pieces: readonly GlobToken[], next: number): number => {
    for (let index = pieces.length - 1; index >= 0; index -= 1) {
      const token = pieces[index]!;
      if (token.kind === "literal") for (let char = token.text.length - 1; char >= 0; char -= 1) next = add(CHAR_STATE, token.text.charCodeAt(char), next);
      else if (token.kind === "any") next = add(CHAR_STATE, ANY, next);
      else if (token.kind === "class") next = add(CHAR_STATE, CLASS_BASE - (classes.push(parseClass(token.body)) - 1), next);
      else if (token.kind === "star") next = add(STAR_STATE, 0, next);
      else {
        const after = next;
        const targets = token.alternatives.map((alternative) => build(tokenizeGlob(alternative), after));
        next = add(SPLIT_STATE, 0, splits.push(targets) - 1);
      }
    }
    return next;
  };
  const body = build(tokens, openEnd ? add(STAR_STATE, 0, 0) : 0);
  const start = openStart ? add(STAR_STATE, 0, body) : body;
  const kindOf = Int8Array.from(kinds);
  const wantedOf = Int32Array.from(wanted);
  const nextOf = Int32Array.from(nexts);
  const count = kindOf.length;
  const marks = new Uint32Array(count);
  let generation = 0;
  const lists = [new Int32Array(count), new Int32Array(count)] as const;
  // A state is pushed at most once per generation, but a split's targets can repeat: room for all.
  const stack = new Int32Array(count + splits.reduce((sum, targets) => sum + targets.length, 0) + 1);
  /** Adds `state` and what it reaches without reading a character to `list`; returns the new length. */
  const enter = (state: number, list: Int32Array, length: number): number => {
    let top = 0;
    stack[top++] = state;
    while (top > 0) {
      const id = stack[--top]!;
      if (marks[id] === generation) continue;
      marks[id] = generation;
      const kind = kindOf[id]!;
      if (kind === SPLIT_STATE) for (const target of splits[nextOf[id]!]!) stack[top++] = target;
      else {
        list[length++] = id;
        if (kind === STAR_STATE) stack[top++] = nextOf[id]!;
      }
    }
    return length;
  };
  return (name) => {
    // Marks hold 32 bits: start them afresh before the generation would wrap.
    if (generation > 0xffff_0000) {
      marks.fill(0);
      generation = 0;
    }
    generation += 1;
    let current = lists[0];
    let following = lists[1];
    let length = enter(start, current, 0);
    for (let position = 0; position < name.length && length > 0; position += 1) {
      const code = name.charCodeAt(position);
      generation += 1;
      let nextLength = 0;
      for (let index = 0; index < length; index += 1) {
        const id = current[index]!;
        const kind = kindOf[id]!;
        if (kind === STAR_STATE) nextLength = enter(id, following, nextLength);
        else if (kind === CHAR_STATE && accepts(classes, wantedOf[id]!, code)) nextLength = enter(nextOf[id]!, following, nextLength);
      }
      const swap = current;
      current = following;
      following = swap;
      length = nextLength;
    }
    for (let index = 0; index < length; index += 1) if (current[index] === 0) return true;
    return false;
  };
}

/**
 * A test of whole names against the tokens of a glob core (see splitOpenEnds), answering what the
 * glob's RegExp would, in time bounded by name length × glob length.
 */
export function compileGlobTest(tokens: readonly GlobToken[], openStart: boolean, openEnd: boolean): (name: string) => boolean {
  if (!tokens.some((token) => token.kind === "brace")) return segmentTest(tokens, openStart, openEnd);
  const expanded = expandBraces(tokens);
  if (expanded === null) return automatonTest(tokens, openStart, openEnd);
  const tests = expanded.map((glob) => segmentTest(glob, openStart, openEnd));
  return (name) => tests.some((test) => test(name));
}
