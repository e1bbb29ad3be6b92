/** One argument of a probe as `bpftrace -lv` lists it. */
export interface ProbeArgument {
  /** C type with any array suffix moved here: "const char *", "unsigned long[6]"; "" when not printed. */
  type: string;
  name: string;
}

/** A probe from `bpftrace -lv` with its arguments. */
export interface ProbeDetail {
  probe: string;
  args: ProbeArgument[];
  /** The argument lines as printed (trimmed), including any this parser could not read. */
  raw: string[];
}

/** A field of a struct layout; members of anonymous unions/structs are lifted into the parent. */
export interface StructField {
  type: string;
  name: string;
}

/** `bpftrace -lv 'struct X'`: what could be read, plus the printed text. */
export interface StructLayout {
  /** With its keyword, as the user would type it: "struct path". */
  name: string;
  fields: StructField[];
  raw: string;
}

// A probe line: a type word, a colon, then no ": " (which marks messages like "stdin:1:1-15: ERROR: ...").
// Spaces are allowed after the type because demangled C++ uprobe names contain them.
const PROBE_LINE = /^[A-Za-z_][\w-]*:(?=\S)(?!.*: )/;
const DIAGNOSTIC_LINE = /^(?:ERROR|WARNING|FATAL|Error|Warning)\b/;
// The underline bpftrace prints below a source line it echoes in an error message.
const ERROR_UNDERLINE = /^\s*~+\s*$/;

function splitLines(text: string): string[] {
  return text.split(/\r?\n|\r/).map((line) => line.trimEnd());
}

function isProbeLine(line: string, nextLine: string | undefined): boolean {
  if (line === "" || /^\s/.test(line) || DIAGNOSTIC_LINE.test(line)) return false;
  // An echoed program line ("kfunc:vfs_read" above "~~~~~~~~~~~~~~") is part of an error, not a probe.
  if (nextLine !== undefined && ERROR_UNDERLINE.test(nextLine)) return false;
  return PROBE_LINE.test(line);
}

/** Probe names from `bpftrace -l [filter]`, in order, without duplicates or diagnostics. */
export function parseProbeList(text: string): string[] {
  const lines = splitLines(text);
  const probes = new Set<string>();
  for (const [index, line] of lines.entries()) {
    if (isProbeLine(line, lines[index + 1])) probes.add(line);
  }
  return [...probes];
}

// "const char * filename", "unsigned long args[6]", "unsigned long[6] args", "__data_loc char[] name".
const DECLARATION = /^(.*?)\s*\b([A-Za-z_]\w*)\s*((?:\[[^\]]*\]\s*)*)$/;
const FUNCTION_POINTER_NAME = /\(\s*\*\s*([A-Za-z_]\w*)\s*\)/;
// Words that end a type rather than name a member: "long: 64" is unnamed padding.
const TYPE_WORDS = new Set(["char", "short", "int", "long", "signed", "unsigned", "float", "double", "void", "_Bool", "bool"]);

/** Splits a C declaration into type and name; null when it has no name. */
function parseDeclaration(declaration: string): StructField | null {
  const text = declaration.trim().replace(/\s+/g, " ");
  const functionPointer = FUNCTION_POINTER_NAME.exec(text);
  if (functionPointer?.[1]) {
    return { type: text.replace(FUNCTION_POINTER_NAME, "(*)"), name: functionPointer[1] };
  }
  const match = DECLARATION.exec(text);
  if (!match) return null;
  const [, typePart = "", name = "", arraySuffix = ""] = match;
  if (TYPE_WORDS.has(name)) return null;
  return { type: `${typePart.trim()}${arraySuffix.replace(/\s+/g, "")}`, name };
}

function parseArgument(line: string): ProbeArgument | null {
  const declaration = line.trim().replace(/;$/, "");
  // Some releases print a bare "retval" without a type; a bare type word is an unnamed parameter.
  if (/^[A-Za-z_]\w*$/.test(declaration)) return TYPE_WORDS.has(declaration) ? null : { type: "", name: declaration };
  return parseDeclaration(declaration);
}

// Indented text that is a message, not a declaration: "  what():  Could not read symbols: ...".
function isArgumentLine(trimmedLine: string): boolean {
  return !DIAGNOSTIC_LINE.test(trimmedLine) && !trimmedLine.includes(": ");
}

/** Probes and their argument lines from `bpftrace -lv ...`; diagnostics between them are skipped. */
export function parseProbeDetails(text: string): ProbeDetail[] {
  const lines = splitLines(text);
  const details = new Map<string, ProbeDetail>();
  let current: ProbeDetail | undefined;
  for (const [index, line] of lines.entries()) {
    if (isProbeLine(line, lines[index + 1])) {
      // A repeated probe's arguments are dropped so each probe is reported once.
      current = details.has(line) ? undefined : { probe: line, args: [], raw: [] };
      if (current) details.set(line, current);
      continue;
    }
    const argumentLine = line.trim();
    if (!current || !/^\s/.test(line) || argumentLine === "" || !isArgumentLine(argumentLine)) continue;
    current.raw.push(argumentLine);
    const argument = parseArgument(argumentLine);
    if (argument) current.args.push(argument);
  }
  return [...details.values()];
}

// 0.27 names the BTF the type came from: "vmlinux: struct task_struct {" (a module name for module types).
const AGGREGATE_OPEN = /^(?:[\w.-]+:\s+)?(struct|union|enum)\s+([A-Za-z_]\w*)\s*\{\s*$/;
const NESTED_OPEN = /^(?:const\s+|volatile\s+)*(struct|union)\b[^{;]*\{\s*$/;
const NESTED_CLOSE = /^\}\s*(.*?)\s*;?\s*$/;

interface OpenAggregate {
  keyword: string;
  fields: StructField[];
}

function parseMember(line: string): StructField | null {
  const declaration = line.replace(/;\s*$/, "");
  const bitfield = /^(.*?)\s*:\s*(\d+)$/.exec(declaration);
  if (bitfield) {
    const field = parseDeclaration(bitfield[1] ?? "");
    return field ? { type: `${field.type}:${bitfield[2] ?? ""}`, name: field.name } : null;
  }
  return parseDeclaration(declaration);
}

/** Reads the body lines of an aggregate; anonymous members are lifted into their parent. */
function readFields(bodyLines: readonly string[]): StructField[] {
  const stack: OpenAggregate[] = [{ keyword: "struct", fields: [] }];
  for (const rawLine of bodyLines) {
    const line = rawLine.trim();
    const top = stack[stack.length - 1];
    if (line === "" || !top) continue;
    const opened = NESTED_OPEN.exec(line);
    if (opened) {
      stack.push({ keyword: opened[1] ?? "struct", fields: [] });
      continue;
    }
    const closed = NESTED_CLOSE.exec(line);
    if (closed && stack.length > 1) {
      stack.pop();
      const parent = stack[stack.length - 1];
      const memberName = (closed[1] ?? "").trim();
      if (!parent) continue;
      const namedMember = memberName === "" ? null : parseDeclaration(`${top.keyword} {...} ${memberName}`);
      if (namedMember) parent.fields.push(namedMember);
      else parent.fields.push(...top.fields);
      continue;
    }
    if (line.endsWith(";")) {
      const field = parseMember(line);
      if (field) top.fields.push(field);
    }
  }
  return stack[0]?.fields ?? [];
}

/** The layout printed by `bpftrace -lv 'struct X'`; null when the output holds none. */
export function parseStructLayout(text: string): StructLayout | null {
  const lines = splitLines(text);
  const start = lines.findIndex((line) => AGGREGATE_OPEN.test(line.trim()));
  if (start < 0) return null;
  const header = AGGREGATE_OPEN.exec(lines[start]?.trim() ?? "");
  let depth = 0;
  let end = lines.length - 1;
  for (let index = start; index < lines.length; index += 1) {
    const line = lines[index] ?? "";
    depth += (line.match(/\{/g)?.length ?? 0) - (line.match(/\}/g)?.length ?? 0);
    if (depth <= 0) {
      end = index;
      break;
    }
  }
  const layoutLines = lines.slice(start, end + 1);
  // Output cut short has no closing "};": every line after the header is then a body line.
  const closed = layoutLines.length > 1 && (layoutLines[layoutLines.length - 1] ?? "").trim().startsWith("}");
  return {
    name: `${header?.[1] ?? "struct"} ${header?.[2] ?? ""}`,
    fields: readFields(layoutLines.slice(1, closed ? -1 : undefined)),
    raw: layoutLines.join("\n").trimEnd(),
  };
}

export { matchProbes, probeGlobToRegExp } from "./probe-match.js";

/** The probe type: the text before the first ":" ("tracepoint", "uprobe", ...). */
export function probeType(probe: string): string {
  const colon = probe.indexOf(":");
  return (colon < 0 ? probe : probe.slice(0, colon)).trim();
}
