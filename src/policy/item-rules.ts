// Rules on the program's top-level items: which probes may run, what a timer probe may read,
// which files a uprobe may name, and which config keys a program may set.

import type { Outline, ProbeItem } from "./outline.js";
import { readSpecifier, type ProbeSpecifier } from "./probe-types.js";
import { toViolation, type PolicyViolation, type RuleText } from "./rules.js";
import type { Token } from "./tokenizer.js";

export interface ItemRuleOptions {
  canRead: (path: string) => boolean;
  maxStrlen: number;
}

export interface ItemFindings {
  violations: PolicyViolation[];
  specifiers: ProbeSpecifier[];
  configKeys: string[];
}

const NO_PROBE: RuleText = {
  rule: "structure",
  reason: "the policy found no probe in this program, so it cannot tell what would run",
  alternative: "write at least one probe block, e.g. tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }",
};

const MIXED: RuleText = {
  rule: "probe",
  reason: "BEGIN, END, self and interval probes cannot share a block with probes on traced events (the server adds a filter to the latter)",
  alternative: "give BEGIN/END/interval probes a block of their own",
};

const ITERATOR: RuleText = {
  rule: "probe",
  reason: "iterator probes walk every task and file on the system, the server's own included",
  alternative: "trace the events you need with tracepoints or kprobes",
};

// What a timer probe would read from whichever task it interrupts, the server's own included.
const TASK_STATE = new Set([
  "curtask", "ustack", "reg", "uptr", "uaddr", "usym", "comm", "pid", "tid", "uid", "gid", "cgroup", "username",
  "str", "buf", "args", "retval", "func",
  ...Array.from({ length: 10 }, (_, n) => `arg${n}`),
  ...Array.from({ length: 10 }, (_, n) => `sarg${n}`),
]);

// Config keys that only shape output or tolerate missing probes; everything else is refused by name.
const OUTPUT_KEYS = new Set([
  "missing_probes", "print_maps_on_exit", "stack_mode", "str_trunc_trailer", "cpp_demangle",
  "lazy_symbolication", "symbol_source", "show_debug_info", "cache_user_symbols", "max_strlen",
]);
const KEY_ALIASES: Readonly<Record<string, string>> = { strlen: "max_strlen" };
const GLOB = /[*?[\]]/;

/** Checks every item of the outline; returns the violations and what the items declare. */
export function checkOutline(tokens: readonly Token[], program: Outline, options: ItemRuleOptions): ItemFindings {
  const findings: ItemFindings = { violations: [], specifiers: [], configKeys: [] };
  const add = (text: RuleText, construct: string, at: Token): void => {
    findings.violations.push(toViolation(text, construct, at));
  };
  for (const problem of program.problems) {
    add({ rule: "structure", reason: problem.message, alternative: "write probe, optional /predicate/, then the { action block }" }, problem.at.text, problem.at);
  }
  for (const item of program.items) {
    if (item.kind === "probe") checkProbeItem(tokens, item, options, findings, add);
    else if (item.kind === "config") {
      for (const { key, value } of item.entries) {
        findings.configKeys.push(key.text);
        const refusal = configRefusal(key.text, value, options.maxStrlen);
        if (refusal) add(refusal, key.text, key);
      }
    }
  }
  const first = tokens[0];
  if (findings.specifiers.length === 0 && program.problems.length === 0) {
    add(NO_PROBE, first?.text ?? "", first ?? { line: 1, column: 1 } as Token);
  }
  return findings;
}

function checkProbeItem(
  tokens: readonly Token[],
  item: ProbeItem,
  options: ItemRuleOptions,
  findings: ItemFindings,
  add: (text: RuleText, construct: string, at: Token) => void,
): void {
  const read = item.specifiers.map((token) => ({ token, specifier: readSpecifier(token.text) }));
  findings.specifiers.push(...read.map(({ specifier }) => specifier));
  const traced = read.some(({ specifier }) => specifier.context === "traced");
  const untraced = read.find(({ specifier }) => specifier.context !== "traced");
  if (traced && untraced) add(MIXED, untraced.token.text, untraced.token);
  for (const { token, specifier } of read) {
    if (specifier.provider === "iter") add(ITERATOR, token.text, token);
    const path = specifier.targetPath;
    if (path === null) continue;
    if (GLOB.test(path)) {
      add({ rule: "probe-target", reason: "a wildcard in a uprobe/usdt path can match files the server's user may not read", alternative: "name the binary or library by its full path" }, path, token);
    } else if (!path.startsWith("/") || path.split("/").includes("..")) {
      add({ rule: "probe-target", reason: "a uprobe/usdt path must be absolute and contain no `..`", alternative: "write the full path, e.g. uprobe:/usr/bin/bash:readline" }, path, token);
    } else if (!options.canRead(path)) {
      add({
        rule: "probe-target",
        reason: `the server's own user cannot read ${path}, and bpftrace (as root) would read it for you`,
        alternative: "trace a binary or library that the server's user can read, or name a library (uprobe:libc:malloc)",
      }, path, token);
    }
  }
  if (untraced && !traced && read.some(({ specifier }) => specifier.context === "timer")) checkTimerBody(tokens, item, add);
}

/** A timer probe interrupts whichever task runs on its CPU: it may not read that task's state or memory. */
function checkTimerBody(tokens: readonly Token[], item: ProbeItem, add: (text: RuleText, construct: string, at: Token) => void): void {
  const from = item.predicate?.open ?? item.bodyOpen;
  for (let index = from; index < item.bodyClose; index += 1) {
    const token = tokens[index];
    const previous = tokens[index - 1];
    const afterAccess = previous?.kind === "punct" && (previous.text === "." || previous.text === "->");
    if (token?.kind !== "ident" || afterAccess || !TASK_STATE.has(token.text)) continue;
    add({
      rule: "timer-probe",
      reason: `an interval probe interrupts whichever task runs on its CPU (the server's own included), so it may not read \`${token.text}\` there`,
      alternative: "read task state in a probe on the event itself (tracepoint, kprobe, uprobe, profile) and print maps from the interval probe",
    }, token.text, token);
  }
}

function configRefusal(written: string, value: readonly Token[], maxStrlen: number): RuleText | undefined {
  const lower = written.toLowerCase().replace(/^bpftrace_/, "");
  const key = KEY_ALIASES[lower] ?? lower;
  const allowedKeys = [...OUTPUT_KEYS].join(", ");
  if (!OUTPUT_KEYS.has(key)) {
    return {
      rule: "config",
      reason: `the config key \`${written}\` changes bpftrace's limits or safety settings, or is unknown to the server`,
      alternative: `remove it; a program may set only ${allowedKeys} (the operator sets the rest)`,
    };
  }
  if (value.length !== 1) {
    return { rule: "config", reason: `\`${written}\` takes one value`, alternative: `write ${written} = value;` };
  }
  if (key === "max_strlen") {
    const length = Number(value[0]?.text);
    if (!Number.isSafeInteger(length) || length < 1 || length > maxStrlen) {
      return { rule: "config", reason: `max_strlen may be at most ${maxStrlen} here`, alternative: `set max_strlen to ${maxStrlen} or less` };
    }
  }
  return undefined;
}
