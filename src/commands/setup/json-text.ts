import { parse, printParseErrorCode, type ParseError } from "jsonc-parser";
import { editJson, type TextLayout } from "./json-edit.js";

/** A config file's text, parsed, with the formatting new text should follow. */
export interface JsonDocument {
  /** The text without a byte-order mark. */
  text: string;
  bom: string;
  value: unknown;
  /** The file's own indentation and line ending, for the lines setup writes. */
  layout: TextLayout;
}

/** A config file that cannot be read as its client reads it; `line` and `column` count from 1. */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
    readonly lineText: string,
  ) {
    super(message);
    this.name = "JsonSyntaxError";
  }
}

function position(text: string, offset: number): { line: number; column: number; lineText: string } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const lineStart = before.lastIndexOf("\n") + 1;
  const lineEnd = text.indexOf("\n", offset);
  return { line, column: offset - lineStart + 1, lineText: text.slice(lineStart, lineEnd < 0 ? text.length : lineEnd).replace(/\r$/, "") };
}

// jsonc-parser's codes in words a person fixing the file understands.
const PROBLEMS: Record<string, string> = {
  InvalidCommentToken: "a comment, which this client's JSON does not allow",
  PropertyNameExpected: "a property name in double quotes expected (a trailing comma?)",
  ValueExpected: "a value expected (a trailing comma?)",
  CommaExpected: "a comma expected",
  ColonExpected: "a colon expected",
  CloseBraceExpected: "a closing } expected",
  CloseBracketExpected: "a closing ] expected",
  EndOfFileExpected: "the end of the file expected",
  UnexpectedEndOfString: "a string not closed",
  InvalidSymbol: "a character JSON does not allow here",
};

function describe(error: ParseError): string {
  const code = printParseErrorCode(error.error);
  return PROBLEMS[code] ?? code;
}

function detectLayout(text: string): TextLayout {
  const indent = /^([ \t]+)\S/m.exec(text)?.[1] ?? "  ";
  return { unit: indent.startsWith("\t") ? "\t" : indent.slice(0, 8), eol: text.includes("\r\n") ? "\r\n" : "\n" };
}

/**
 * Parses a config file as its client would: strict JSON, or JSONC (comments and trailing commas)
 * for clients that accept it. Throws JsonSyntaxError naming the first problem's line and column.
 */
export function parseJsonDocument(raw: string, options: { jsonc: boolean }): JsonDocument {
  const bom = raw.startsWith("\uFEFF") ? "\uFEFF" : "";
  const text = raw.slice(bom.length);
  if (text.trim() === "") return { text: "", bom, value: {}, layout: detectLayout("") };
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, { allowTrailingComma: options.jsonc, disallowComments: !options.jsonc, allowEmptyContent: false });
  const first = errors[0];
  if (first !== undefined) {
    const where = position(text, first.offset);
    throw new JsonSyntaxError(`${describe(first)}`, where.line, where.column, where.lineText);
  }
  return { text, bom, value, layout: detectLayout(text) };
}

/** The text with `value` set at `path` (created with its parents when missing; -1 appends to an array), or removed when `value` is undefined. */
export function setAtPath(document: JsonDocument, path: readonly (string | number)[], value: unknown): string {
  const fresh = document.text.trim() === "";
  const edited = editJson(fresh ? "{}" : document.text, path, value, document.layout);
  // Only edits inside the text: an existing file keeps its own ending; a new one ends with a newline.
  return fresh ? `${edited}${document.layout.eol}` : edited;
}

/** Deep equality of JSON values, ignoring the order of object keys. */
export function jsonEqual(left: unknown, right: unknown): boolean {
  if (left === right) return true;
  if (typeof left !== "object" || typeof right !== "object" || left === null || right === null) return false;
  if (Array.isArray(left) !== Array.isArray(right)) return false;
  if (Array.isArray(left) && Array.isArray(right)) return left.length === right.length && left.every((item, index) => jsonEqual(item, right[index]));
  const leftRecord = left as Record<string, unknown>;
  const rightRecord = right as Record<string, unknown>;
  const keys = Object.keys(leftRecord);
  return keys.length === Object.keys(rightRecord).length && keys.every((key) => Object.hasOwn(rightRecord, key) && jsonEqual(leftRecord[key], rightRecord[key]));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
