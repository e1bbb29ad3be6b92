// Differential fuzzer: the policy's reading of a program against bpftrace's own AST (after macro expansion).
// Invariant: when the policy allows a program, every call, probe and config key bpftrace sees is one the policy reported.

import { spawn } from "node:child_process";
import { dumpArgs, parseAstDump, type ParsedView } from "../../src/bpftrace/parsed-view.js";
import { parseVersion, versionTraits } from "../../src/bpftrace/version.js";
import type { PolicyDecision, PolicyOptions } from "../../src/policy/index.js";

export type CheckProgram = (program: string, options: PolicyOptions) => PolicyDecision;

/** Deterministic PRNG (mulberry32), so a seed names a run. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const chance = (random: Random, probability: number): boolean => random() < probability;

const BANNED = ["cat", "system", "signal", "override", "debugf"];
const SAFE_CALLS = ["count()", "sum(1)", "hist(2)", "max(3)", "min(4)", "avg(5)"];
const STATEMENTS = ['printf("x\\n")', 'printf("%d\\n", pid)', "print(@a)", "clear(@a)", 'time("%H\\n")', "$s = str(0)", "@a = count()"];
const PROBES = [
  "BEGIN", "END", "interval:s:1", "interval:ms:100", "profile:hz:49", '"profile":hz:49', "profile:\"hz\":99",
  "tracepoint:syscalls:sys_enter_read", 'tracepoint:"syscalls":sys_enter_read', "tracepoint:syscalls:\"sys_enter_write\"", "software:cpu-clock:100000",
];
const STRINGS = ['"plain"', '"a\\"b"', '"/* not a comment */"', '"// nor this"', '"\\\\"', '"tab\\tend"', '"*/"', '"??="'];
const SEPARATORS = [" ", " ", " ", "\t", "\n", " /**/ ", "/* c */", " // line\n", "\n/*\n multi\n*/\n", "\r\n"];
// Whitespace the policy refuses outright: rare, so most programs get as far as the comparison.
const RARE_SEPARATORS = ["\\\n", "\f", "\v"];

/** A macro and, when it names something, the name code may use. */
function macro(random: Random): { line: string; name: string | null } {
  const allowed = [
    () => ({ line: "#define LIMIT 5", name: "LIMIT" }),
    () => ({ line: '#define NAME "bash"', name: "NAME" }),
    () => ({ line: "#define HEX 0x10", name: "HEX" }),
  ];
  const refused = [
    () => ({ line: '#define X ca t("/etc/shadow")', name: "X" }),
    () => ({ line: '#define X sys tem("id")', name: "X" }),
    () => ({ line: "#define C 1 /", name: "C" }),
    () => ({ line: "#define C 1 /*", name: "C" }),
    () => ({ line: "#define F(x) x", name: "F(1)" }),
    () => ({ line: '#define F(f) f("/etc/shadow")', name: "F(cat)" }),
    () => ({ line: "#define J(a, b) a##b", name: 'J(ca, t)("/etc/shadow")' }),
    () => ({ line: "#define S sig nal(9)", name: "S" }),
    () => ({ line: "#define P printf", name: 'P("hi\\n")' }),
    () => ({ line: "#define printf cat", name: null }),
    () => ({ line: "#define count system", name: null }),
    () => ({ line: "#define pid 1", name: null }),
    () => ({ line: "#define if while", name: null }),
    () => ({ line: "#define E 1 <% %>", name: "E" }),
    () => ({ line: "#define T ??= 1", name: "T" }),
    () => ({ line: "#define Q \\\n ca\\\nt(\"/etc/shadow\")", name: "Q" }),
    () => ({ line: '#define K "/etc/" "shadow"', name: "cat(K)" }),
    () => ({ line: "#define N LIMIT", name: "N" }),
  ];
  return chance(random, 0.45) ? pick(random, allowed)() : pick(random, refused)();
}

function expression(random: Random, names: string[]): string {
  const atoms = ["pid", "1", "tid", "comm", "nsecs", ...STRINGS.slice(0, 3), ...names];
  const left = pick(random, atoms);
  if (chance(random, 0.4)) return left;
  return `${left} ${pick(random, ["==", "!=", "<", "&&", "||", "/", "*", "+"])} ${pick(random, atoms)}`;
}

function statement(random: Random, names: string[]): string {
  const roll = random();
  if (roll < 0.04) return `${pick(random, BANNED)}(${pick(random, STRINGS)})`;
  if (roll < 0.3 && names.length > 0) return chance(random, 0.5) ? pick(random, names) : `@m[${pick(random, names)}] = count()`;
  if (roll < 0.4) return `@a = ${pick(random, SAFE_CALLS)}`;
  if (roll < 0.5) return `printf("%s\\n", ${pick(random, STRINGS)})`;
  if (roll < 0.55) return `if (${expression(random, names)}) { ${pick(random, STATEMENTS)}; }`;
  return pick(random, STATEMENTS);
}

/** Joins tokens with random whitespace and comments, which is where the two readers used to part. */
function join(random: Random, parts: string[]): string {
  return parts.map((part, index) => (index === 0 ? part : `${chance(random, 0.3) ? pick(random, chance(random, 0.05) ? RARE_SEPARATORS : SEPARATORS) : " "}${part}`)).join("");
}

/** One random program: directives, then optional struct and config, then one to three probes. */
export function generateProgram(random: Random): string {
  const lines: string[] = [];
  const names: string[] = [];
  const macroCount = Math.floor(random() * 3);
  for (let index = 0; index < macroCount; index += 1) {
    const made = macro(random);
    lines.push(made.line);
    if (made.name) names.push(made.name);
  }
  if (chance(random, 0.2)) lines.push(pick(random, ["struct Foo { int a; char b[4]; }", "struct Bar { int x; /* } */ }", "union U { int a; long b; }"]));
  if (chance(random, 0.25)) lines.push(join(random, ["config", "=", "{", pick(random, ["max_map_keys = 100", "max_strlen = 64", "perf_rb_pages = 64", "missing_probes = warn"]), "}"]));
  const probeCount = 1 + Math.floor(random() * 3);
  for (let index = 0; index < probeCount; index += 1) {
    const probes = [pick(random, PROBES)];
    if (chance(random, 0.25)) probes.push(",", pick(random, PROBES));
    const predicate = chance(random, 0.35) ? ["/", expression(random, names), "/"] : [];
    const body: string[] = [];
    const statementCount = 1 + Math.floor(random() * 3);
    for (let count = 0; count < statementCount; count += 1) body.push(statement(random, names), ";");
    lines.push(join(random, [...probes, ...predicate, "{", ...body, "}"]));
  }
  return `${lines.join("\n")}\n`;
}

const ALIASES: Record<string, string> = { k: "kprobe", kr: "kretprobe", u: "uprobe", ur: "uretprobe", t: "tracepoint", p: "profile", i: "interval", s: "software", h: "hardware", U: "usdt" };

/** One spelling per attach point: quotes dropped, provider aliases expanded, BEGIN/END upper-cased. */
export function normaliseSpecifier(specifier: string): string {
  const parts = specifier.replaceAll('"', "").trim().split(":");
  const provider = parts[0] ?? "";
  parts[0] = ALIASES[provider] ?? provider;
  const joined = parts.join(":");
  return /^(?:begin|end)$/i.test(joined) ? joined.toUpperCase() : joined;
}

/** What differed between the policy's reading and bpftrace's, for a program the policy allowed. */
export function compare(decision: PolicyDecision, view: ParsedView): string[] {
  const reported = decision as PolicyDecision & { calls?: string[]; configKeys?: string[] };
  const differences: string[] = [];
  const banned = view.calls.filter((call) => BANNED.includes(call));
  if (banned.length > 0) differences.push(`bpftrace calls banned builtins: ${banned.join(", ")}`);
  if (reported.calls) {
    const unseen = view.calls.filter((call) => !reported.calls?.includes(call));
    if (unseen.length > 0) differences.push(`calls the policy did not report: ${unseen.join(", ")}`);
  }
  const ours = new Set(decision.probes.map(normaliseSpecifier));
  const theirs = new Set(view.probes.flatMap((probe) => probe.specifiers).map(normaliseSpecifier));
  if (ours.size !== theirs.size || [...theirs].some((probe) => !ours.has(probe))) {
    differences.push(`probes differ: policy [${[...ours].join(", ")}], bpftrace [${[...theirs].join(", ")}]`);
  }
  if (reported.configKeys) {
    const unseen = view.configKeys.filter((key) => !reported.configKeys?.includes(key));
    if (unseen.length > 0) differences.push(`config keys the policy did not report: ${unseen.join(", ")}`);
  }
  return differences;
}

export interface Disagreement {
  program: string;
  version: string;
  differences: string[];
}

export interface DifferentialFigures {
  version: string;
  generated: number;
  refused: number;
  /** bpftrace printed no post-expansion AST (a parse or early pass failed). */
  unparsed: number;
  compared: number;
  disagreements: Disagreement[];
}

/** Runs `command` (argv, e.g. a chroot wrapper) with extra arguments; resolves with both streams. */
export function runBpftrace(command: readonly string[], args: readonly string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const [file = "bpftrace", ...prefix] = command;
    const child = spawn(file, [...prefix, ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", (error) => resolve({ stdout, stderr: `${stderr}${error.message}`, code: null }));
    child.on("close", (code) => resolve({ stdout, stderr, code }));
  });
}

/** The version of the bpftrace that `command` runs, and the dump arguments for it. */
export async function describeBpftrace(command: readonly string[]): Promise<{ version: string; dump: string[] }> {
  const result = await runBpftrace(command, ["--version"]);
  const version = parseVersion(`${result.stdout}${result.stderr}`);
  return { version: version?.text ?? "unknown", dump: dumpArgs(versionTraits(version)) };
}

/** bpftrace's view of one program, or null when it printed none. */
export async function bpftraceView(command: readonly string[], dump: readonly string[], program: string): Promise<ParsedView | null> {
  const result = await runBpftrace(command, [...dump, "-e", program]);
  return parseAstDump(result.stdout) ?? parseAstDump(result.stderr);
}

export const POLICY_OPTIONS: PolicyOptions = { allow: new Set(), maxBytes: 65536, maxLines: 2000 };

export interface DifferentialRun {
  command: readonly string[];
  checkProgram: CheckProgram;
  seed: number;
  count: number;
  /** Programs compared at once (each is one short-lived bpftrace). */
  parallel?: number;
}

/** Generates `count` programs and compares every allowed one with bpftrace's view of it. */
export async function runDifferential(run: DifferentialRun): Promise<DifferentialFigures> {
  const { version, dump } = await describeBpftrace(run.command);
  const random = prng(run.seed);
  const programs = Array.from({ length: run.count }, () => generateProgram(random));
  const figures: DifferentialFigures = { version, generated: programs.length, refused: 0, unparsed: 0, compared: 0, disagreements: [] };
  const allowed = programs.filter((program) => {
    const decision = run.checkProgram(program, POLICY_OPTIONS);
    if (!decision.allowed) figures.refused += 1;
    return decision.allowed;
  });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < allowed.length) {
      const program = allowed[next] ?? "";
      next += 1;
      const view = await bpftraceView(run.command, dump, program);
      if (!view) {
        figures.unparsed += 1;
        continue;
      }
      figures.compared += 1;
      const differences = compare(run.checkProgram(program, POLICY_OPTIONS), view);
      if (differences.length > 0) figures.disagreements.push({ program, version, differences });
    }
  };
  await Promise.all(Array.from({ length: run.parallel ?? 4 }, worker));
  return figures;
}

/** The figure line the runs print. */
export function summary(figures: DifferentialFigures): string {
  return `bpftrace ${figures.version}: programs generated: ${figures.generated}, refused by the policy: ${figures.refused}, not parsed by bpftrace: ${figures.unparsed}, compared: ${figures.compared}, disagreements: ${figures.disagreements.length}`;
}
