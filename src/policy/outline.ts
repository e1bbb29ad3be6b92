// The top-level shape of a program, as bpftrace's grammar reads it: probe blocks (specifiers,
// optional /predicate/, { body }), config blocks, struct definitions, functions and declarations.
// The policy checks rules per item, and instrument.ts edits the program at the offsets found here.

import type { Token } from "./tokenizer.js";

/** A probe block: `spec[, spec] [/predicate/] { body }`. Indices point into the code tokens. */
export interface ProbeItem {
  kind: "probe";
  specifiers: Token[];
  /** The predicate's opening and closing `/`, when there is one. */
  predicate: { open: number; close: number } | null;
  bodyOpen: number;
  bodyClose: number;
}

/** `config = { key = value; ... }`. */
export interface ConfigItem {
  kind: "config";
  start: number;
  entries: { key: Token; value: Token[] }[];
  bodyOpen: number;
  bodyClose: number;
}

/** Anything else bpftrace accepts at top level; `body` spans its braces when it has some. */
export interface OtherItem {
  kind: "definition" | "function" | "declaration" | "import";
  start: number;
  end: number;
}

export type OutlineItem = ProbeItem | ConfigItem | OtherItem;

export interface OutlineProblem {
  at: Token;
  message: string;
}

export interface Outline {
  items: OutlineItem[];
  problems: OutlineProblem[];
}

const DEFINITION_KEYWORDS = new Set(["struct", "union", "enum"]);
const FUNCTION_KEYWORDS = new Set(["fn", "macro"]);

/** Reads the top-level items of `tokens` (code tokens, directives removed). Stops at the first problem. */
export function outline(tokens: readonly Token[]): Outline {
  const match = matchBrackets(tokens);
  const items: OutlineItem[] = [];
  const problems: OutlineProblem[] = [];
  let i = 0;
  const fail = (at: number, message: string): void => {
    const token = tokens[Math.min(at, tokens.length - 1)];
    if (token) problems.push({ at: token, message });
    i = tokens.length;
  };
  while (i < tokens.length) {
    const token = tokens[i];
    if (!token) break;
    const next = tokens[i + 1];
    if (isPunct(token, ";")) {
      i += 1;
    } else if (token.kind === "ident" && DEFINITION_KEYWORDS.has(token.text)) {
      const end = skipTo(tokens, match, i, (t) => isPunct(t, ";") || isPunct(t, "{"));
      const close = end !== -1 && isPunct(tokens[end], "{") ? (match[end] ?? -1) : end;
      if (close === -1) return fail(i, "a struct/union/enum definition that never ends"), { items, problems };
      items.push({ kind: "definition", start: i, end: close });
      i = close + 1;
    } else if (token.kind === "ident" && token.text === "config" && isPunct(next, "=")) {
      const open = i + 2;
      const close = isPunct(tokens[open], "{") ? (match[open] ?? -1) : -1;
      if (close === -1) return fail(i, "`config =` must be followed by a { ... } block"), { items, problems };
      const entries = configEntries(tokens, open, close);
      if (!entries) return fail(open, "a config block holds only `key = value;` entries"), { items, problems };
      items.push({ kind: "config", start: i, entries, bodyOpen: open, bodyClose: close });
      i = close + 1;
    } else if (token.kind === "ident" && FUNCTION_KEYWORDS.has(token.text) && next?.kind === "ident") {
      const open = skipTo(tokens, match, i, (t) => isPunct(t, "{"));
      const close = open === -1 ? -1 : (match[open] ?? -1);
      if (close === -1) return fail(i, `a \`${token.text}\` definition without a { body }`), { items, problems };
      items.push({ kind: "function", start: i, end: close });
      i = close + 1;
    } else if (token.kind === "ident" && (token.text === "let" || token.text === "import")) {
      const end = skipTo(tokens, match, i, (t) => isPunct(t, ";"));
      if (end === -1) return fail(i, `\`${token.text}\` must end with ;`), { items, problems };
      items.push({ kind: token.text === "let" ? "declaration" : "import", start: i, end });
      i = end + 1;
    } else {
      const probe = probeItem(tokens, match, i);
      if ("message" in probe) return fail(probe.at, probe.message), { items, problems };
      items.push(probe);
      i = probe.bodyClose + 1;
    }
  }
  return { items, problems };
}

function probeItem(tokens: readonly Token[], match: readonly (number | undefined)[], start: number): ProbeItem | { at: number; message: string } {
  const specifiers: Token[] = [];
  let i = start;
  for (;;) {
    const token = tokens[i];
    if (!token || !isSpecifier(token)) return { at: i, message: "expected a probe specifier (e.g. tracepoint:syscalls:sys_enter_openat) here" };
    specifiers.push(token);
    i += 1;
    if (!isPunct(tokens[i], ",")) break;
    i += 1;
  }
  let predicate: ProbeItem["predicate"] = null;
  if (isPunct(tokens[i], "/")) {
    const open = i;
    const body = skipTo(tokens, match, open + 1, (t) => isPunct(t, "{") || isPunct(t, "}") || isPunct(t, ";"));
    if (body === -1 || !isPunct(tokens[body], "{") || body - 1 <= open || !isPunct(tokens[body - 1], "/")) {
      return { at: open, message: "a predicate is written /expression/ right before the probe's { action block }" };
    }
    predicate = { open, close: body - 1 };
    i = body;
  }
  if (!isPunct(tokens[i], "{")) return { at: i, message: "expected the probe's { action block } here" };
  const close = match[i];
  if (close === undefined) return { at: i, message: "the probe's { action block } is never closed" };
  return { kind: "probe", specifiers, predicate, bodyOpen: i, bodyClose: close };
}

function configEntries(tokens: readonly Token[], open: number, close: number): ConfigItem["entries"] | null {
  const entries: ConfigItem["entries"] = [];
  let i = open + 1;
  while (i < close) {
    const key = tokens[i];
    if (isPunct(key, ";")) {
      i += 1;
      continue;
    }
    if (key?.kind !== "ident" || !isPunct(tokens[i + 1], "=")) return null;
    const value: Token[] = [];
    i += 2;
    while (i < close && !isPunct(tokens[i], ";")) {
      const token = tokens[i];
      if (token) value.push(token);
      i += 1;
    }
    if (value.length === 0) return null;
    entries.push({ key, value });
  }
  return entries;
}

function isSpecifier(token: Token): boolean {
  return token.probePosition && (token.kind === "probe" || token.kind === "ident");
}

function isPunct(token: Token | undefined, text: string): boolean {
  return token?.kind === "punct" && token.text === text;
}

/** Index of the first token at this bracket level from `from` that satisfies `stop`; -1 if none. */
function skipTo(tokens: readonly Token[], match: readonly (number | undefined)[], from: number, stop: (token: Token) => boolean): number {
  let i = from;
  while (i < tokens.length) {
    const token = tokens[i];
    if (!token) return -1;
    if (stop(token)) return i;
    if (isPunct(token, "(") || isPunct(token, "[")) {
      const close = match[i];
      if (close === undefined) return -1;
      i = close + 1;
    } else if (isPunct(token, ")") || isPunct(token, "]") || isPunct(token, "}")) {
      return -1;
    } else i += 1;
  }
  return -1;
}

/** For every opening bracket token, the index of its closing partner. */
function matchBrackets(tokens: readonly Token[]): (number | undefined)[] {
  const match: (number | undefined)[] = [];
  const open: number[] = [];
  tokens.forEach((token, index) => {
    if (token.kind !== "punct") return;
    if (token.text === "(" || token.text === "[" || token.text === "{") open.push(index);
    else if (token.text === ")" || token.text === "]" || token.text === "}") {
      const start = open.pop();
      if (start !== undefined) match[start] = index;
    }
  });
  return match;
}
