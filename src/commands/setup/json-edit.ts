import { applyEdits, createScanner, findNodeAtLocation, modify, parseTree, SyntaxKind, type Node } from "jsonc-parser";

/**
 * Edits a JSON (or JSONC) text in place: only the lines of the value that changes are written,
 * so every other line (other servers, comments, the user's own layout) stays byte for byte.
 */
export interface TextLayout {
  /** One level of indentation, e.g. "  " or "\t". */
  unit: string;
  eol: string;
}

type Path = readonly (string | number)[];

function tree(text: string): Node {
  const root = parseTree(text, [], { allowTrailingComma: true, disallowComments: false });
  if (root === undefined) throw new Error("internal error: the text to edit does not parse");
  return root;
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf("\n", offset - 1) + 1;
}

function indentOf(text: string, offset: number): string {
  const start = lineStart(text, offset);
  return /^[ \t]*/.exec(text.slice(start, offset))?.[0] ?? "";
}

/** The value as indented JSON whose continuation lines start at `indent`. */
function render(value: unknown, indent: string, layout: TextLayout): string {
  return JSON.stringify(value, null, layout.unit).replaceAll("\n", `${layout.eol}${indent}`);
}

/** The offset just after the comma that follows `offset` (skipping blanks and comments), or null. */
function commaAfter(text: string, offset: number): number | null {
  const scanner = createScanner(text, false);
  scanner.setPosition(offset);
  for (let kind = scanner.scan(); kind !== SyntaxKind.EOF; kind = scanner.scan()) {
    if (kind === SyntaxKind.CommaToken) return scanner.getTokenOffset() + 1;
    if (kind !== SyntaxKind.Trivia && kind !== SyntaxKind.LineBreakTrivia && kind !== SyntaxKind.LineCommentTrivia && kind !== SyntaxKind.BlockCommentTrivia) return null;
  }
  return null;
}

/** Where a new member goes after `offset`: past a comment that ends the line there, so the comment stays with its member. */
function pastLineComment(text: string, offset: number): number {
  const newline = text.indexOf("\n", offset);
  const end = newline < 0 ? text.length : text[newline - 1] === "\r" ? newline - 1 : newline;
  const rest = text.slice(offset, end).trim();
  return rest === "" || rest.startsWith("//") || (rest.startsWith("/*") && rest.endsWith("*/")) ? end : offset;
}

function splice(text: string, start: number, end: number, content: string): string {
  return `${text.slice(0, start)}${content}${text.slice(end)}`;
}

/** Adds `key: value` (or an array item) as the container's last member, on lines of its own. */
function append(text: string, container: Node, key: string | null, value: unknown, layout: TextLayout): string {
  const members = container.children ?? [];
  const last = members[members.length - 1];
  const label = key === null ? "" : `${JSON.stringify(key)}: `;
  if (last === undefined) {
    const outer = indentOf(text, container.offset);
    const inner = `${outer}${layout.unit}`;
    // Between the braces: replace whatever blank space is there.
    const body = `${layout.eol}${inner}${label}${render(value, inner, layout)}${layout.eol}${outer}`;
    return splice(text, container.offset + 1, container.offset + container.length - 1, body);
  }
  const memberIndent = indentOf(text, last.offset);
  const member = `${layout.eol}${memberIndent}${label}${render(value, memberIndent, layout)}`;
  const lastEnd = last.offset + last.length;
  const trailingComma = commaAfter(text, lastEnd);
  // JSONC with a trailing comma keeps its style; otherwise the comma goes right after the old last member.
  if (trailingComma !== null) {
    const at = pastLineComment(text, trailingComma);
    return splice(text, at, at, `${member},`);
  }
  const at = pastLineComment(text, lastEnd);
  return splice(splice(text, at, at, member), lastEnd, lastEnd, ",");
}

/** Removes a member together with its lines when it has lines of its own; else lets jsonc-parser cut it. */
function remove(text: string, path: Path): string {
  const root = tree(text);
  const valueNode = findNodeAtLocation(root, [...path]);
  if (valueNode === undefined) return text;
  const member = valueNode.parent?.type === "property" ? valueNode.parent : valueNode;
  const container = member.parent;
  const siblings = container?.children ?? [];
  const index = siblings.indexOf(member);
  // The only member: the container goes back to empty braces.
  if (container !== undefined && siblings.length === 1) return splice(text, container.offset + 1, container.offset + container.length - 1, "");
  const start = member.offset;
  const end = member.offset + member.length;
  const ownLine = text.slice(lineStart(text, start), start).trim() === "";
  const after = commaAfter(text, end);
  const lineEnd = (offset: number) => {
    const newline = text.indexOf("\n", offset);
    return newline < 0 ? text.length : newline + 1;
  };
  const restOfLine = (offset: number) => text.slice(offset, lineEnd(offset)).trim();
  const cutEnd = after ?? end;
  if (!ownLine || !(restOfLine(cutEnd) === "" || restOfLine(cutEnd).startsWith("//"))) {
    return applyEdits(text, modify(text, [...path], undefined, {}));
  }
  let result = splice(text, lineStart(text, start), lineEnd(cutEnd), "");
  const previous = siblings[index - 1];
  if (after === null && previous !== undefined) {
    // It was the last member: the comma after the one before it would now trail.
    const comma = commaAfter(result, previous.offset + previous.length);
    if (comma !== null) result = splice(result, comma - 1, comma, "");
  }
  return result;
}

/**
 * The text with `value` at `path`: replaced where it exists, appended to the nearest existing
 * container (with any missing parents) where it does not, removed when `value` is undefined.
 * A number as the last key appends to an array when it is -1.
 */
export function editJson(text: string, path: Path, value: unknown, layout: TextLayout): string {
  if (value === undefined) return remove(text, path);
  const root = tree(text);
  const existing = path.length > 0 && path[path.length - 1] !== -1 ? findNodeAtLocation(root, [...path]) : undefined;
  if (existing !== undefined) {
    const member = existing.parent?.type === "property" ? existing.parent : existing;
    return splice(text, existing.offset, existing.offset + existing.length, render(value, indentOf(text, member.offset), layout));
  }
  // Walk down to the deepest container that exists; nest the rest of the path into the new value.
  let depth = 0;
  let container = root;
  while (depth < path.length - 1) {
    const next = findNodeAtLocation(root, [...path.slice(0, depth + 1)]);
    if (next === undefined || (next.type !== "object" && next.type !== "array")) break;
    container = next;
    depth += 1;
  }
  let nested: unknown = value;
  for (let level = path.length - 1; level > depth; level -= 1) nested = { [String(path[level])]: nested };
  const key = path[depth];
  return append(text, container, container.type === "array" ? null : String(key), nested, layout);
}
