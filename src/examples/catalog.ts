// The curated example programs: their `// key: value` headers, loading from disk and the README table (search: search.ts).

import { readdirSync, readFileSync } from "node:fs";

/** Events a test can cause so that an example's output can be checked against its marker. */
export const EXAMPLE_TRIGGERS = ["open-file", "exec", "tcp-connect", "signal", "unlink", "sleep", "dns", "write", "none"] as const;

/** One of {@link EXAMPLE_TRIGGERS}. */
export type ExampleTrigger = (typeof EXAMPLE_TRIGGERS)[number];

/** What an example's header says about it. */
export interface ExampleHeader {
  title: string;
  /** The question the program answers, in the user's words. */
  question: string;
  /** Probe specifiers exactly as written in the program, wildcards included. */
  probes: string[];
  /** How to read what the program prints. */
  output: string;
  /** Kernel, bpftrace and library prerequisites. */
  requires: string;
  tags: string[];
  /** An event a test can cause to see the program react; "none" when there is none. */
  trigger: string;
  /** A regular expression the output matches once the trigger happened; null when the trigger is "none". */
  marker: string | null;
  /** What a caller may set when running it by name (`// params: pid, comm, threshold_ms=20`). */
  params: ExampleParams;
  /** Map key parts holding a syscall number, named in the parsed maps (`// syscalls: @map[2]`). */
  syscallKeys: { map: string; index: number }[];
}

/** The parameters an example takes. pid/comm filter every traced probe; a threshold replaces `// param:` lines. */
export interface ExampleParams {
  pid: boolean;
  comm: boolean;
  /** e.g. { name: "threshold_ms", unit: "ms", default: 20 }. */
  threshold: { name: string; unit: string; default: number } | null;
}

/** A curated program: its header facts, its file name without `.bt`, and the full file text. */
export interface Example extends ExampleHeader {
  name: string;
  /** The whole file, header included: it is a valid bpftrace program as is. */
  program: string;
}

const REQUIRED_KEYS = ["title", "question", "probes", "output", "requires", "tags"] as const;
const OPTIONAL_KEYS = ["trigger", "marker", "params", "syscalls"] as const;
const THRESHOLD_PARAM = /^(threshold_([a-z]+))=(\d+)$/;
const SYSCALL_KEY = /^(@[A-Za-z0-9_]*)\[(\d+)\]$/;
const KNOWN_KEYS = new Set<string>([...REQUIRED_KEYS, ...OPTIONAL_KEYS]);
const HEADER_LINE = /^\/\/ ([a-z]+): (.*)$/;
const KEBAB_CASE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const DEFAULT_PROGRAMS_DIR = new URL("./programs/", import.meta.url);

export { searchExamples, stemOf, type ExampleFilter } from "./search.js";

/** Parses the leading `// key: value` lines of an example; throws an Error naming the file and the bad key. */
export function parseExampleHeader(name: string, text: string): ExampleHeader {
  const fail = (problem: string): never => {
    throw new Error(`Example "${name}": ${problem}`);
  };
  const fields = new Map<string, string>();
  const lines = text.split("\n");
  let index = 0;
  for (; index < lines.length; index++) {
    const line = (lines[index] ?? "").replace(/\r$/, "");
    if (!line.startsWith("//")) break;
    const match = HEADER_LINE.exec(line);
    if (!match) fail(`header line ${index + 1} is not "// key: value": ${JSON.stringify(line)}`);
    const [, key = "", rawValue = ""] = match ?? [];
    if (!KNOWN_KEYS.has(key)) fail(`unknown header key "${key}" on line ${index + 1} (known: ${[...KNOWN_KEYS].join(", ")})`);
    if (fields.has(key)) fail(`duplicate header key "${key}" on line ${index + 1}`);
    const value = rawValue.trim();
    if (value === "") fail(`header key "${key}" is empty`);
    fields.set(key, value);
  }
  for (const key of REQUIRED_KEYS) {
    if (!fields.has(key)) fail(`missing header key "${key}"`);
  }
  if ((lines[index] ?? "").trim() !== "") fail("the header must be followed by a blank line");

  const probes = splitList(fields.get("probes") ?? "");
  const tags = splitList(fields.get("tags") ?? "");
  if (probes.length === 0) fail(`header key "probes" lists no probe`);
  if (tags.length === 0) fail(`header key "tags" lists no tag`);
  const badTag = tags.find((tag) => !KEBAB_CASE.test(tag));
  if (badTag !== undefined) fail(`invalid tag "${badTag}" in header key "tags" (use lower-case kebab-case)`);

  const trigger = fields.get("trigger") ?? "none";
  if (!isTrigger(trigger)) fail(`invalid header key "trigger": "${trigger}" (one of ${EXAMPLE_TRIGGERS.join(", ")})`);
  const marker = fields.get("marker") ?? null;
  if (trigger !== "none" && marker === null) fail(`missing header key "marker" (required when trigger is "${trigger}")`);
  if (marker !== null) {
    try {
      new RegExp(marker);
    } catch (error) {
      fail(`invalid header key "marker": ${(error as Error).message}`);
    }
  }

  const params: ExampleParams = { pid: false, comm: false, threshold: null };
  for (const param of splitList(fields.get("params") ?? "")) {
    const threshold = THRESHOLD_PARAM.exec(param);
    if (param === "pid" || param === "comm") params[param] = true;
    else if (threshold) params.threshold = { name: threshold[1] ?? "", unit: threshold[2] ?? "", default: Number(threshold[3]) };
    else fail(`invalid header key "params": "${param}" (pid, comm, or threshold_<unit>=<number>)`);
  }
  if (params.threshold && !text.includes(`// param: ${params.threshold.name}`)) fail(`params names ${params.threshold.name} but no line ends with "// param: ${params.threshold.name}"`);
  const syscallKeys = splitList(fields.get("syscalls") ?? "").map((item) => {
    const match = SYSCALL_KEY.exec(item);
    if (!match) fail(`invalid header key "syscalls": "${item}" (e.g. @syscall_errors[2], the key part holding the number)`);
    return { map: match?.[1] ?? "", index: Number(match?.[2] ?? 0) };
  });

  return {
    title: fields.get("title") ?? "",
    question: fields.get("question") ?? "",
    probes,
    output: fields.get("output") ?? "",
    requires: fields.get("requires") ?? "",
    tags,
    trigger,
    marker,
    params,
    syscallKeys,
  };
}

/** The line a threshold is set on: `$name = <number>; // param: <param>`. */
const PARAM_LINE = /^(\s*\$[A-Za-z_][A-Za-z0-9_]* = )(\d+)(; \/\/ param: ([a-z_]+))\s*$/gm;

/** The example's program with its threshold set (every `// param:` line of it); the number must be a whole, non-negative one. */
export function programWithThreshold(example: Example, threshold: number): string {
  const param = example.params.threshold;
  if (!param) throw new Error(`${example.name} takes no threshold`);
  if (!Number.isSafeInteger(threshold) || threshold < 0) throw new Error(`threshold must be a whole number of ${param.unit}, 0 or more`);
  return example.program.replace(PARAM_LINE, (line, before: string, _value: string, after: string, name: string) => (name === param.name ? `${before}${threshold}${after}` : line));
}

/** Reads every `*.bt` in `dir` (default: the programs next to this module, in src/ or dist/), sorted by name. */
export function loadExamples(dir: URL = DEFAULT_PROGRAMS_DIR): Example[] {
  const files = readdirSync(dir)
    .filter((file) => file.endsWith(".bt"))
    .sort();
  return files.map((file) => {
    const name = file.slice(0, -".bt".length);
    if (!KEBAB_CASE.test(name)) throw new Error(`Example "${name}": file names must be kebab-case, e.g. file-opens.bt`);
    const program = readFileSync(new URL(file, dir), "utf8");
    return { name, ...parseExampleHeader(name, program), program };
  });
}

/** Every tag used by the examples, sorted and without duplicates. */
export function allTags(examples: readonly Example[]): string[] {
  return [...new Set(examples.flatMap((example) => example.tags))].sort();
}

/** The README's example table (name | question | probes | tags), generated from the headers. */
export function examplesMarkdownTable(examples: readonly Example[]): string {
  const rows = [...examples]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((example) =>
      [
        `\`${example.name}\``,
        markdownCell(example.question),
        example.probes.map((probe) => `\`${probe}\``).join("<br>"),
        markdownCell(example.tags.join(", ")),
      ].join(" | "),
    )
    .map((row) => `| ${row} |`);
  return ["| Name | Question | Probes | Tags |", "| --- | --- | --- | --- |", ...rows].join("\n") + "\n";
}

function splitList(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

function isTrigger(value: string): value is ExampleTrigger {
  return (EXAMPLE_TRIGGERS as readonly string[]).includes(value);
}

function markdownCell(text: string): string {
  return text.replaceAll("|", "\\|");
}
