import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { indexProbes, matchProbes, matchProbesInSlices, probeGlobToRegExp } from "../../src/bpftrace/probe-match.js";
import { matchProbes as matchProbesReexported } from "../../src/bpftrace/parse-probes.js";

// ---------------------------------------------------------------------------------------------
// The reference: matchProbes as it was before the index (commit fb0c747), verbatim apart from
// names. Every name is tested with the glob's RegExp, or with includes() for a plain word.
// ---------------------------------------------------------------------------------------------
const REF_GLOB_CHARS = /[*?[\]{}]/;
const REF_REGEX_SPECIAL = /[\\^$.*+?()[\]{}|/]/g;

function refEscapeLiteral(text: string): string {
  return text.replace(REF_REGEX_SPECIAL, "\\$&");
}

function refFindClassEnd(glob: string, open: number): number {
  let index = open + 1;
  if (glob[index] === "!" || glob[index] === "^") index += 1;
  if (glob[index] === "]") index += 1;
  return glob.indexOf("]", index);
}

function refFindBraceEnd(glob: string, open: number): number {
  let depth = 0;
  for (let index = open; index < glob.length; index += 1) {
    if (glob[index] === "{") depth += 1;
    else if (glob[index] === "}" && --depth === 0) return index;
  }
  return -1;
}

function refSplitAlternatives(inner: string): string[] {
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

function refClassToSource(body: string): string {
  const negated = body.startsWith("!") || body.startsWith("^");
  const members = (negated ? body.slice(1) : body).replace(/[\\\]^[]/g, "\\$&");
  return `[${negated ? "^" : ""}${members}]`;
}

function refGlobToSource(glob: string): string {
  let source = "";
  for (let index = 0; index < glob.length; index += 1) {
    const char = glob[index] ?? "";
    if (char === "*") source += glob[index - 1] === "*" ? "" : ".*?";
    else if (char === "?") source += ".";
    else if (char === "[" && refFindClassEnd(glob, index) > index) {
      const end = refFindClassEnd(glob, index);
      source += refClassToSource(glob.slice(index + 1, end));
      index = end;
    } else if (char === "{" && refFindBraceEnd(glob, index) > index) {
      const end = refFindBraceEnd(glob, index);
      source += `(?:${refSplitAlternatives(glob.slice(index + 1, end)).map(refGlobToSource).join("|")})`;
      index = end;
    } else source += refEscapeLiteral(char);
  }
  return source;
}

function refGlobToRegExp(glob: string): RegExp {
  const openStart = glob.startsWith("*");
  const openEnd = glob.endsWith("*");
  const core = glob.replace(/^\*+/, "").replace(/\*+$/, "");
  return new RegExp(`${openStart ? "" : "^"}(?:${refGlobToSource(core)})${openEnd ? "" : "$"}`, "s");
}

function referenceMatch(probes: readonly string[], filter: string | undefined): string[] {
  const wanted = filter?.trim() ?? "";
  if (wanted === "") return [...probes];
  if (!wanted.includes(":") && !REF_GLOB_CHARS.test(wanted)) return probes.filter((probe) => probe.includes(wanted));
  const pattern = refGlobToRegExp(wanted);
  return probes.filter((probe) => pattern.test(probe));
}

// ---------------------------------------------------------------------------------------------
// Random lists and filters, from a seeded generator so a failure can be replayed.
// ---------------------------------------------------------------------------------------------
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const between = (random: Random, low: number, high: number): number => low + Math.floor(random() * (high - low + 1));

// Few letters, so names share pairs of characters and random globs match often; regex and glob
// metacharacters, so they are taken literally where the glob says so.
const NAME_CHARS = "aaabbbcab__..::+()|$^\\/[]{}*?,!- xyz";
const PROVIDERS = ["kprobe", "kretprobe", "tracepoint", "kfunc", "k", "t", "a", "ab", ""];

function randomText(random: Random, low: number, high: number, chars = NAME_CHARS): string {
  let text = "";
  for (let count = between(random, low, high); count > 0; count -= 1) text += pick(random, [...chars]);
  return text;
}

function randomName(random: Random): string {
  const shape = random();
  if (shape < 0.1) return randomText(random, 0, 8); // no provider, maybe no ":" at all, maybe empty
  const provider = pick(random, PROVIDERS);
  if (shape < 0.5) return `${provider}:${randomText(random, 0, 10)}`;
  return `${provider}:${randomText(random, 0, 6, "abcab_x")}:${randomText(random, 0, 10)}`;
}

function randomList(random: Random, size: number): string[] {
  return Array.from({ length: size }, () => randomName(random));
}

/** A glob made from a name of the list: spans turned into "*", characters into "?", classes, braces. */
function globFromName(random: Random, name: string): string {
  let glob = "";
  for (let index = 0; index < name.length; index += 1) {
    const char = name[index] ?? "";
    const roll = random();
    if (roll < 0.12) {
      glob += "*";
      index += between(random, 0, 3);
    } else if (roll < 0.18) glob += "?";
    else if (roll < 0.22) glob += random() < 0.5 ? `[${char}${pick(random, [..."abx-"])}]` : `[!${pick(random, [..."abxz"])}]`;
    else if (roll < 0.26) glob += `{${char},${randomText(random, 0, 2, "abc")}}`;
    else glob += char;
  }
  if (random() < 0.3) glob = `*${glob}`;
  if (random() < 0.3) glob = `${glob}*`;
  return glob;
}

/** Literals joined by "*", cut from overlapping places of a name: "*aa*ab*" against "aab" must fail. */
function piecesGlob(random: Random, name: string): string {
  const pieces: string[] = [];
  for (let count = between(random, 2, 3); count > 0; count -= 1) {
    const start = between(random, 0, Math.max(0, name.length - 1));
    const piece = name.slice(start, start + between(random, 1, 3)).replace(/[*?[\]{}]/g, "a");
    if (piece !== "") pieces.push(piece);
  }
  return `${random() < 0.5 ? "*" : ""}${pieces.join("*")}${random() < 0.5 ? "*" : ""}`;
}

function randomFilter(random: Random, list: readonly string[]): string {
  const kind = random();
  const name = pick(random, list);
  if (kind < 0.12) return piecesGlob(random, name);
  if (kind < 0.35) return globFromName(random, name);
  if (kind < 0.5) {
    // A plain word: a piece of a name without ":" or glob characters (or, by chance, with them).
    const start = between(random, 0, name.length);
    return name.slice(start, start + between(random, 1, 4)).replace(/[:*?[\]{}]/g, "a");
  }
  if (kind < 0.6) return name; // the exact name (a glob when it holds ":" or glob characters)
  if (kind < 0.75) return `${pick(random, PROVIDERS)}:${pick(random, ["*", "", "a*", "*b", "*ab*", "?*", "[ab]*", "{a,b}*", "*:*"])}`;
  if (kind < 0.85) return `${pick(random, ["*", "", " "])}${randomText(random, 1, 4, "ab_:.*?")}${pick(random, ["*", "", " "])}`;
  return randomText(random, 1, 8, "ab_:.*?[]{},!xk ");
}

/**
 * Matches `filter` over `list` by the reference, then asserts matchProbes answers the same on a
 * first and an indexed call, or throws the same error (a class such as "[b-a]" is no RegExp).
 */
function expectSameAsReference(list: readonly string[], filter: string | undefined): void {
  let expected: string[];
  try {
    expected = referenceMatch(list, filter);
  } catch (error) {
    expect(() => matchProbes(list, filter), `filter ${JSON.stringify(filter)}`).toThrow((error as Error).message);
    return;
  }
  expect(matchProbes(list, filter), `filter ${JSON.stringify(filter)}`).toEqual(expected);
  expect(matchProbes(list, filter), `filter ${JSON.stringify(filter)}, repeated`).toEqual(expected);
}

describe("matchProbes against the reference implementation", () => {
  it.each([1, 2, 3, 4, 5, 6])("agrees on 400 random filters over a list of 2,000 random names (seed %i)", (seed) => {
    const random = generator(seed);
    const list = randomList(random, 2_000);
    indexProbes(list);
    let matchedSomething = 0;
    for (let round = 0; round < 400; round += 1) {
      const filter = randomFilter(random, list);
      expectSameAsReference(list, filter);
      if (referenceMatch(list, filter).length > 0) matchedSomething += 1;
    }
    // The filters must exercise matches, not only misses, or the comparison proves little.
    expect(matchedSomething).toBeGreaterThan(150);
  });

  it("agrees on small lists, which are scanned rather than indexed", () => {
    const random = generator(99);
    for (let round = 0; round < 200; round += 1) {
      const list = randomList(random, between(random, 0, 30));
      expectSameAsReference(list, list.length > 0 ? randomFilter(random, list) : "a*");
    }
  });

  it("agrees on the edge cases: empty, blank, '*', exact names, first and last names, metacharacters", () => {
    const random = generator(7);
    const list = [
      "kprobe:first_name",
      ...randomList(random, 1_500),
      "kprobe:a.b+c(d)|e$f^g\\h/i",
      "uprobe:/usr/lib/libc.so.6:malloc",
      "uprobe:/usr/lib/libcXso.6:malloc",
      "tracepoint:aaa:aaaa",
      "kprobe:aaaa",
      "kprobe:aab",
      "kprobe:aaab",
      "kprobe:a",
      "kprobe:",
      ":",
      "",
      "noprovider",
      "kfunc:last_name",
    ];
    indexProbes(list);
    const filters: (string | undefined)[] = [
      undefined,
      "",
      "   ",
      "*",
      "**",
      "***",
      "kprobe:first_name", // the first name, exactly
      "kfunc:last_name", // the last name, exactly
      "first", // plain word in the first name
      "last_name", // plain word at the end of the last name
      "kprobe:first*", // literal at the start of a name
      "*last_name", // literal at the end of a name
      "*:first_name",
      "kfunc:*name",
      "kprobe:a.b+c(d)|e$f^g\\h/i", // regex metacharacters, taken literally
      "kprobe:a?b+c(d)|e$f^g\\h/i",
      "*(d)|e$*",
      "a.b+c",
      "uprobe:/usr/lib/libc.so.6:malloc", // "." must not match "X"
      "uprobe:/usr/lib/libc?so.6:*",
      "aaa", // overlapping occurrences in "aaaa"
      "*:aaa*",
      "*aaa",
      "tracepoint:aaa:aaa",
      "tracepoint:aaa:aaa*",
      "*aa*ab*", // literals between stars must not overlap: "aab" does not match
      "*aa*ab",
      "kprobe:aa*ab",
      "kprobe:a*a",
      "kprobe:a*a*",
      "*a*a*a*a*",
      "kprobe:*aa*aa",
      "kprobe:",
      "kprobe:*",
      "k*:*",
      ":",
      "*:*",
      "?",
      "noprovider",
      "noprovider*",
      "nosuchprovider:*",
      "nosuch",
      "kprobe:[unclosed",
      "kprobe:{unclosed",
      "{kprobe,kfunc}:*name",
      "  kprobe:first_name  ", // trimmed
      "first name", // inner space: a plain word
      "first\nname", // inner newline
      "kprobe:first\n*",
      "kprobe:[z-a]*", // no valid RegExp: both throw
    ];
    for (const filter of filters) expectSameAsReference(list, filter);
  });

  it("keeps list order and duplicates exactly", () => {
    const list = Array.from({ length: 3_000 }, (_, index) => (index % 3 === 0 ? "kprobe:dup_name" : `kprobe:name_${(index * 7919) % 3_000}`));
    for (const filter of ["kprobe:dup_name", "dup", "kprobe:name_1*", "*_2?", "name_"]) expectSameAsReference(list, filter);
  });

  it("answers from the list's current names after it is changed in place", () => {
    const random = generator(11);
    const list = randomList(random, 2_000);
    const filters = ["kprobe:*", "*ab*", "ab", "kfunc:*a*", "zz_new*", "*:zz_new"];
    for (const filter of filters) expectSameAsReference(list, filter);
    list[1_000] = "kprobe:zz_new";
    for (const filter of filters) expectSameAsReference(list, filter);
    list.push("kfunc:zz_new");
    for (const filter of filters) expectSameAsReference(list, filter);
    list.splice(0, 700);
    for (const filter of filters) expectSameAsReference(list, filter);
    list.length = 900; // below the indexing threshold now
    for (const filter of filters) expectSameAsReference(list, filter);
  });

  it("answers a frozen list, and a list holding names with newlines", () => {
    const random = generator(13);
    const frozen = Object.freeze(randomList(random, 1_200));
    for (const filter of ["kprobe:*", "*ab*", "a:b", "t:*x*"]) expectSameAsReference(frozen, filter);
    const withNewlines = [...randomList(random, 1_200), "kprobe:line\nbreak", "kprobe:line", "break"];
    for (const filter of ["kprobe:line*", "*break", "line\nbreak", "e\nb", "kprobe:*\n*", "*"]) expectSameAsReference(withNewlines, filter);
  });

  it("matches the bench's synthetic filters over 100k names like the reference", () => {
    const list = Array.from({ length: 100_000 }, (_, index) => {
      const verb = ["read", "write", "open", "close"][index % 4] ?? "read";
      if (index % 10 === 0) return `tracepoint:syscalls:sys_enter_${verb}${index}`;
      if (index % 10 < 6) return `kprobe:tcp_${verb}_x${(index % 36).toString(36)}_${index % 7}`;
      return `kfunc:vfs_${verb}_x${index % 9}_${index}`;
    });
    for (const filter of ["tracepoint:syscalls:*open*", "open", "kprobe:tcp_*", "*:*read*", "{kprobe,kretprobe}:vfs_[rw]*", "kfunc:*_x?_*"]) {
      expectSameAsReference(list, filter);
    }
  });

  it("is what parse-probes exports", () => {
    expect(matchProbesReexported).toBe(matchProbes);
  });
});

describe("probeGlobToRegExp against the reference implementation", () => {
  it("builds the same RegExp for 3,000 random globs", () => {
    const random = generator(21);
    const list = randomList(random, 200);
    for (let round = 0; round < 3_000; round += 1) {
      const glob = random() < 0.5 ? globFromName(random, pick(random, list)) : randomText(random, 0, 12, "ab*?[]{},!^-:.\\");
      let expected: RegExp;
      try {
        expected = refGlobToRegExp(glob);
      } catch (error) {
        expect(() => probeGlobToRegExp(glob), glob).toThrow((error as Error).message);
        continue;
      }
      const actual = probeGlobToRegExp(glob);
      expect(actual.source, glob).toBe(expected.source);
      expect(actual.flags, glob).toBe(expected.flags);
    }
  });
});

/** Every "{a,b}" of a name's glob: more alternatives than are expanded, so the automaton answers. */
function braceHeavyGlob(random: Random, name: string): string {
  let glob = "";
  for (const char of name.replace(/[*?[\]{}]/g, "a")) {
    const roll = random();
    if (roll < 0.5) glob += `{${char},${pick(random, [..."abx_"])}}`;
    else if (roll < 0.6) glob += "*";
    else if (roll < 0.7) glob += "?";
    else glob += char;
  }
  return `${random() < 0.3 ? "*" : ""}${glob}${random() < 0.3 ? "*" : ""}`;
}

const LIST_0_17 = readFileSync(new URL("../fixtures/bpftrace-output/0.17.0/list.txt", import.meta.url), "utf8").split("\n").filter((line) => line !== "");

describe("matchProbes never backtracks", () => {
  it("answers the red team's 't?*?*?*?*?*?*?*?*!' over the 0.17 probe list in well under a second", () => {
    // Six "?*" took 8 s as a RegExp (each one ~9 times the last): checked first, so a backtracking matcher fails here quickly.
    for (const filter of ["t?*?*?*?*?*?*!", "t?*?*?*?*?*?*?*?*!", `t${"?*".repeat(20)}!`, `*${"?*".repeat(250)}!`, `{t,k}${"?*".repeat(20)}!`, `{${"?*".repeat(100)},x}!`]) {
      const started = performance.now();
      expect(matchProbes(LIST_0_17, filter), filter).toEqual([]);
      expect(performance.now() - started, filter).toBeLessThan(250);
    }
    expect(matchProbes(LIST_0_17, "t?*?*sys_enter_open*")).toEqual(referenceMatch(LIST_0_17, "t?*?*sys_enter_open*"));
  });

  it("agrees with the reference on globs with more brace alternatives than it expands", () => {
    const random = generator(31);
    const list = randomList(random, 300);
    for (let round = 0; round < 300; round += 1) {
      const filter = braceHeavyGlob(random, pick(random, list).slice(0, 16));
      expect(matchProbes(list, filter), filter).toEqual(referenceMatch(list, filter));
    }
  });

  it("searches 100k names in slices of a few milliseconds, with the same answer", async () => {
    const list = Object.freeze(Array.from({ length: 100_000 }, (_, index) => `kprobe:tcp_${["read", "write"][index % 2] ?? ""}_x${index % 9}_${index}`));
    indexProbes(list);
    for (const filter of [`{k,t}${"?*".repeat(30)}!`, `*${"{a,b}*".repeat(8)}!`, "kprobe:tcp_*", "*_x?_1*"]) {
      let longestGapMs = 0;
      let last = performance.now();
      let searching = true;
      const tick = (): void => {
        const now = performance.now();
        longestGapMs = Math.max(longestGapMs, now - last);
        last = now;
        if (searching) setImmediate(tick);
      };
      setImmediate(tick);
      const sliced = await matchProbesInSlices(list, filter);
      searching = false;
      expect(sliced, filter).toEqual(matchProbes(list, filter));
      // A slice is ~4 ms; the margin is for a busy test machine.
      expect(longestGapMs, filter).toBeLessThan(60);
    }
  });
});
