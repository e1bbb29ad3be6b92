// The curated example programs: their `// key: value` headers, loading from disk, search and the README table.

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

/** Criteria for {@link searchExamples}; both are optional and combine with AND. */
export interface ExampleFilter {
  /** Words, any of which may match (see searchExamples). */
  query?: string | undefined;
  /** An exact tag. */
  tag?: string | undefined;
}

const REQUIRED_KEYS = ["title", "question", "probes", "output", "requires", "tags"] as const;
const OPTIONAL_KEYS = ["trigger", "marker", "params", "syscalls"] as const;
const THRESHOLD_PARAM = /^(threshold_([a-z]+))=(\d+)$/;
const SYSCALL_KEY = /^(@[A-Za-z0-9_]*)\[(\d+)\]$/;
const KNOWN_KEYS = new Set<string>([...REQUIRED_KEYS, ...OPTIONAL_KEYS]);
const HEADER_LINE = /^\/\/ ([a-z]+): (.*)$/;
const KEBAB_CASE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const DEFAULT_PROGRAMS_DIR = new URL("./programs/", import.meta.url);

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

/**
 * Examples matching the filter, best first. A query matches an example when any of its words does
 * (after dropping filler words, reducing each to a simple stem and adding synonyms); the score
 * weighs where each word is found (name and title most, then tags, then question and probes) and
 * rewards examples that match more of the words.
 */
export function searchExamples(examples: readonly Example[], filter: ExampleFilter): Example[] {
  const words = queryTerms(filter.query ?? "");
  const tag = filter.tag?.trim().toLowerCase();
  const ranked: { example: Example; score: number }[] = [];
  for (const example of examples) {
    if (tag !== undefined && tag !== "" && !example.tags.includes(tag)) continue;
    if (words.length === 0) {
      ranked.push({ example, score: 0 });
      continue;
    }
    const fields = [
      { stems: stemsOf(`${example.name.replaceAll("-", " ")} ${example.title}`), weight: 3 },
      { stems: stemsOf(example.tags.join(" ")), weight: 2 },
      { stems: stemsOf(`${example.question} ${example.probes.join(" ")}`), weight: 1 },
    ];
    let score = 0;
    let matched = 0;
    for (const [word, ...synonyms] of words) {
      // A word found as itself counts fully, through a synonym half; the best field counts.
      let best = 0;
      for (const { stems, weight } of fields) {
        if (word !== undefined && stems.has(word)) best = Math.max(best, weight);
        else if (synonyms.some((synonym) => stems.has(synonym))) best = Math.max(best, weight / 2);
      }
      if (best > 0) matched += 1;
      score += best;
    }
    if (matched === 0) continue;
    ranked.push({ example, score: score + matched * matched });
  }
  ranked.sort((a, b) => b.score - a.score || a.example.name.localeCompare(b.example.name));
  return ranked.map(({ example }) => example);
}

// Words that say nothing about which program fits.
const FILLER = new Set(
  "a an and are as at be been by can do does for from has have how i in into is it its keep keeps me my of on or so some that the their them there these this to up was what when where which while who whom why will with".split(" "),
);

// A word (as stemmed) and what else it may be called in the library.
const SYNONYMS: Record<string, string[]> = {
  spawn: ["fork", "child", "exec", "short-lived"],
  fork: ["spawn", "child", "exec"],
  child: ["fork", "spawn"],
  children: ["child", "fork", "spawn"],
  start: ["exec", "spawn"],
  launch: ["exec", "spawn"],
  run: ["exec"],
  miss: ["enoent", "error", "fail"],
  nonexistent: ["enoent", "error", "fail"],
  exist: ["enoent", "error", "fail", "missing"],
  fail: ["error", "errno", "failure"],
  error: ["fail", "errno"],
  deni: ["eacces", "eperm", "error"],
  slow: ["latency"],
  latency: ["slow"],
  wait: ["latency"],
  dns: ["getaddrinfo", "lookup", "resolve", "host"],
  resolv: ["dns", "lookup", "getaddrinfo"],
  lookup: ["dns", "resolve"],
  hostnam: ["dns", "host"],
  disk: ["block", "io"],
  io: ["disk", "block"],
  cpu: ["on-cpu", "profile", "oncpu"],
  busy: ["cpu"],
  burn: ["cpu"],
  hot: ["cpu", "profile"],
  sync: ["fsync", "fdatasync"],
  flush: ["fsync"],
  network: ["tcp"],
  connect: ["tcp"],
  memory: ["mmap", "oom", "fault"],
  kill: ["signal"],
  crash: ["signal", "exit"],
  die: ["exit", "signal"],
  syscall: ["system", "call"],
  fil: ["open", "files"],
  writ: ["written"],
  delet: ["unlink"],
  remov: ["unlink", "delete"],
  thread: ["clone", "newtask"],
};

/** The query's words, each as alternatives: its stem first, then its synonyms. */
function queryTerms(query: string): string[][] {
  const words = query.toLowerCase().match(/[a-z0-9_]+(?:-[a-z0-9_]+)*/g) ?? [];
  const terms: string[][] = [];
  for (const word of words) {
    if (FILLER.has(word)) continue;
    const stem = stemOf(word);
    terms.push([stem, ...(SYNONYMS[stem] ?? []).flatMap((synonym) => [...stemsOf(synonym)])]);
  }
  return terms;
}

/** Every word of `text` as a stem, plus the whole of hyphenated and snake_case words. */
function stemsOf(text: string): Set<string> {
  const stems = new Set<string>();
  for (const word of text.toLowerCase().match(/[a-z0-9_]+(?:-[a-z0-9_]+)*/g) ?? []) {
    stems.add(stemOf(word));
    for (const part of word.split(/[-_]/)) if (part !== "") stems.add(stemOf(part));
  }
  return stems;
}

/** A crude English stem: enough that "spawns", "spawning", "spawner" and "spawned" meet "spawn". */
export function stemOf(word: string): string {
  let stem = word;
  if (stem.length > 4 && stem.endsWith("ies")) stem = `${stem.slice(0, -3)}y`;
  else if (stem.length > 3 && stem.endsWith("s") && !stem.endsWith("ss")) stem = stem.slice(0, -1);
  if (stem.length > 5 && stem.endsWith("ing")) stem = stem.slice(0, -3);
  else if (stem.length > 4 && (stem.endsWith("ed") || stem.endsWith("er"))) stem = stem.slice(0, -2);
  if (stem.length > 3 && stem.endsWith("e")) stem = stem.slice(0, -1);
  return stem;
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
