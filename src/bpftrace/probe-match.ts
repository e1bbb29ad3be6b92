// Matching probe names against a list_probes filter: a bpftrace glob, or a plain word.
//
// A large list matched more than once is indexed: bitmaps of the names of each provider, and of
// the names holding each (hashed) pair of characters. A filter then tests only the names of its
// provider (when that is literal) that hold every pair its literal text fixes, instead of every
// name. The answer is the one testing every name gives: same names, same order.
//
// No filter is run as a RegExp (backtracking made "t?*?*?*?*?*?*?*?*!" take minutes): each test is
// linear in the name per piece of the glob (probe-glob.ts), and a search of a long list runs in
// slices (matchProbesInSlices) so no request holds the event loop for more than a few milliseconds.

import { compileGlobTest, probeGlobToRegExp, splitOpenEnds, tokenizeGlob, type GlobToken } from "./probe-glob.js";

export { probeGlobToRegExp } from "./probe-glob.js";

const GLOB_CHARS = /[*?[\]{}]/;

/**
 * What a name's characters say about it, in 128 "feature" bits: one set for each pair of characters
 * it holds, adjacent or one apart, picked by hashing the pair. 128 bits (16 bytes a name) are cheap
 * to keep, and enough that a pair rarely shares its bit with a pair most names hold.
 */
const FEATURE_BITS = 128;
const FEATURE_BITS_LOG2 = 7;

/** The feature bit of two adjacent characters: the top bits of a multiplicative hash. */
function pairBit(first: number, second: number): number {
  return Math.imul((first << 16) | second, 0x9e3779b1) >>> (32 - FEATURE_BITS_LOG2);
}

/** The feature bit of two characters with one between them ("x" and "_" in "x1_"): another hash. */
function gapBit(first: number, third: number): number {
  return Math.imul((first << 16) | third, 0x85ebca6b) >>> (32 - FEATURE_BITS_LOG2);
}

/** A filter made ready for matching many names. */
interface CompiledFilter {
  /** Every name matches (a glob of nothing but "*"). */
  all: boolean;
  /** Whether one name matches: the definition every faster path must agree with. */
  test: (name: string) => boolean;
  /** The feature bits every match holds: those of the character pairs the filter fixes. */
  required: Int32Array;
  /** An index can narrow the names to test: the filter has a literal provider, or fixes a pair of characters. */
  narrowable: boolean;
  /** The provider every match starts with ("kprobe" for "kprobe:vfs_*"), or null when it is not literal. */
  provider: string | null;
  /** Every name of the provider matches ("kprobe:*"). */
  wholeProvider: boolean;
}

/** The test for a glob that is one literal: what its RegExp would answer, without a RegExp. */
function literalTest(text: string, anchoredStart: boolean, anchoredEnd: boolean): (name: string) => boolean {
  if (anchoredStart && anchoredEnd) return (name) => name === text;
  if (anchoredStart) return (name) => name.startsWith(text);
  if (anchoredEnd) return (name) => name.endsWith(text);
  return (name) => name.includes(text);
}

/**
 * The test for a glob of literals joined by "*" ("tracepoint:syscalls:*open", "*:*read*"): what its
 * RegExp would answer, by finding each literal at its first place after the one before. That first
 * place leaves the most room for the rest, so no later one can match where it did not.
 */
function literalsTest(parts: readonly string[], anchoredStart: boolean, anchoredEnd: boolean): (name: string) => boolean {
  const head = parts[0] ?? "";
  const tail = parts[parts.length - 1] ?? "";
  const middle = parts.slice(anchoredStart ? 1 : 0, anchoredEnd ? -1 : undefined);
  return (name) => {
    if (anchoredStart && !name.startsWith(head)) return false;
    const end = anchoredEnd ? name.length - tail.length : name.length;
    if (anchoredEnd && (end < (anchoredStart ? head.length : 0) || !name.endsWith(tail))) return false;
    let from = anchoredStart ? head.length : 0;
    for (const part of middle) {
      const at = name.indexOf(part, from);
      if (at < 0 || at + part.length > end) return false;
      from = at + part.length;
    }
    return true;
  };
}

/**
 * The stretches of a glob that match text of a known length: the character codes of each, with
 * -1 where any one character goes ("?" or a class). "*" and braces end a stretch.
 */
function fixedRuns(tokens: readonly GlobToken[]): number[][] {
  const runs: number[][] = [];
  let run: number[] = [];
  for (const token of tokens) {
    if (token.kind === "literal") for (let index = 0; index < token.text.length; index += 1) run.push(token.text.charCodeAt(index));
    else if (token.kind === "any" || token.kind === "class") run.push(-1);
    else {
      runs.push(run);
      run = [];
    }
  }
  runs.push(run);
  return runs;
}

/** The feature bits every match holds: those of the character pairs its fixed runs hold. */
function requiredBits(runs: readonly (readonly number[])[]): Int32Array {
  const bits = new Set<number>();
  for (const codes of runs) {
    for (let index = 1; index < codes.length; index += 1) {
      const code = codes[index] ?? -1;
      const previous = codes[index - 1] ?? -1;
      const beforePrevious = index > 1 ? (codes[index - 2] ?? -1) : -1;
      if (code >= 0 && previous >= 0) bits.add(pairBit(previous, code));
      if (code >= 0 && beforePrevious >= 0) bits.add(gapBit(beforePrevious, code));
    }
  }
  return Int32Array.from(bits);
}

function compileFilter(wanted: string): CompiledFilter {
  if (!wanted.includes(":") && !GLOB_CHARS.test(wanted)) {
    const required = requiredBits(fixedRuns([{ kind: "literal", text: wanted }]));
    return { all: false, test: (name) => name.includes(wanted), required, narrowable: required.length > 0, provider: null, wholeProvider: false };
  }
  const { openStart, openEnd, core } = splitOpenEnds(wanted);
  const tokens = tokenizeGlob(core);
  const first = tokens[0];
  const single = tokens.length === 1 && first?.kind === "literal";
  const literalsOnly = tokens.every((token) => token.kind === "literal" || token.kind === "star");
  // A class the RegExp grammar rejects ("[z-a]") is refused with the RegExp's own error; the RegExp is never run.
  if (tokens.some((token) => token.kind === "class" || token.kind === "brace")) probeGlobToRegExp(wanted);
  const globTest = literalsOnly ? null : compileGlobTest(tokens, openStart, openEnd);
  const colon = !openStart && first?.kind === "literal" ? first.text.indexOf(":") : -1;
  const provider = first?.kind === "literal" && colon >= 0 ? first.text.slice(0, colon) : null;
  const runs = fixedRuns(tokens);
  // With the provider's names as the candidates, the pairs of "provider:" tell them nothing: leave them out.
  if (provider !== null) runs[0] = runs[0]?.slice(provider.length) ?? [];
  const required = requiredBits(runs);
  return {
    all: tokens.length === 0,
    test: single
      ? literalTest(first.text, !openStart, !openEnd)
      : literalsOnly
        ? literalsTest(
            tokens.flatMap((token) => (token.kind === "literal" ? [token.text] : [])),
            !openStart,
            !openEnd,
          )
        : (globTest ?? (() => false)),
    required,
    narrowable: provider !== null || required.length > 0,
    provider,
    wholeProvider: provider !== null && single && openEnd && first.text === `${provider}:`,
  };
}

/** A small map that forgets its oldest entry when full. */
function remember<V>(cache: Map<string, V>, key: string, make: () => V, capacity = 256): V {
  let value = cache.get(key);
  if (value === undefined) {
    if (cache.size >= capacity) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    value = make();
    cache.set(key, value);
  }
  return value;
}

const compiledFilters = new Map<string, CompiledFilter>();

/**
 * What is known about the names of a list, to skip most of them without testing them, as bitmaps
 * over the list (bit i for name i): one per provider (the text before a name's first ":"), and one
 * per feature bit. A name lacking a feature a filter fixes (a pair of its literal characters, or of
 * literal characters around a "?") cannot match it: ANDing a few bitmaps leaves the names to test.
 */
interface NameIndex {
  /** The names indexed, copied unless frozen: the list is re-indexed when it no longer holds exactly these. */
  names: readonly string[];
  /** The list was frozen when indexed, so it cannot have changed since. */
  frozen: boolean;
  /** 32-bit words per bitmap. */
  words: number;
  /** The bitmap of each provider's names. */
  byProvider: Map<string, Int32Array>;
  /** The bitmap of feature bit b: features[b * words] up to features[(b + 1) * words]. */
  features: Int32Array;
}

/** Lists shorter than this are scanned: indexing would not pay. */
const INDEX_MIN_NAMES = 1_000;
/** Per list: its index, or "seen" after the first call (a list matched only once is never indexed). */
const indexes = new WeakMap<readonly string[], NameIndex | "seen" | "unindexable">();

function buildIndex(probes: readonly string[]): NameIndex | null {
  const frozen = Object.isFrozen(probes);
  // A frozen list cannot change: no copy is needed to notice that it did.
  const names = frozen ? probes : probes.slice();
  const words = Math.ceil(names.length / 32);
  const features = new Int32Array(FEATURE_BITS * words);
  const byProvider = new Map<string, Int32Array>();
  for (let position = 0; position < names.length; position += 1) {
    const name = names[position];
    if (typeof name !== "string") return null; // A hole in the list: leave it to the plain scan.
    const word = position >>> 5;
    const bit = 1 << (position & 31);
    // The pairs of the name's characters, adjacent and one apart.
    let beforePrevious = -1;
    let previous = name.length > 0 ? name.charCodeAt(0) : -1;
    for (let index = 1; index < name.length; index += 1) {
      const code = name.charCodeAt(index);
      features[pairBit(previous, code) * words + word]! |= bit;
      if (beforePrevious >= 0) features[gapBit(beforePrevious, code) * words + word]! |= bit;
      beforePrevious = previous;
      previous = code;
    }
    const colon = name.indexOf(":");
    if (colon < 0) continue;
    const provider = name.slice(0, colon);
    let members = byProvider.get(provider);
    if (!members) byProvider.set(provider, (members = new Int32Array(words)));
    members[word]! |= bit;
  }
  return { names, frozen, words, byProvider, features };
}

function holdsSameNames(index: NameIndex, probes: readonly string[]): boolean {
  if (index.frozen) return true;
  const names = index.names;
  if (names.length !== probes.length) return false;
  for (let position = 0; position < names.length; position += 1) if (names[position] !== probes[position]) return false;
  return true;
}

/** The index of `probes` when it is worth one: built the second time the same list is matched. */
function indexFor(probes: readonly string[], eager = false): NameIndex | null {
  if (probes.length < INDEX_MIN_NAMES) return null;
  const known = indexes.get(probes);
  if (known === undefined && !eager) {
    indexes.set(probes, "seen");
    return null;
  }
  if (known === "unindexable") return null;
  // Checked on every call, so a list changed in place is never answered from its old names.
  if (typeof known === "object" && holdsSameNames(known, probes)) return known;
  const built = buildIndex(probes);
  indexes.set(probes, built ?? "unindexable");
  return built;
}

/**
 * Indexes a large list now rather than on its second match (the probe catalog does this off the
 * request path). Nothing changes but speed: a list changed afterwards is simply indexed again.
 */
export function indexProbes(probes: readonly string[]): void {
  indexFor(probes, true);
}

/**
 * The names that may match: the bitmap of the provider's names (or of all), ANDed with the bitmap of
 * every required feature.
 */
function candidates(index: NameIndex, members: Int32Array | null, required: Int32Array): Int32Array {
  const { words, features } = index;
  const result = members ? members.slice() : new Int32Array(words).fill(-1);
  for (const feature of required) {
    const offset = feature * words;
    let any = 0;
    for (let word = 0; word < words; word += 1) any |= result[word]! &= features[offset + word]!;
    if (any === 0) break;
  }
  return result;
}

/**
 * Work between two pauses of a search, in characters tested × (filter length + 1): a few
 * milliseconds at worst, where a test takes name length × filter length steps.
 */
const STEP_WORK = 250_000;

/**
 * A search as steps: each `yield` is a point where it may pause (after about STEP_WORK of testing);
 * it returns the matches. Run at once by matchProbes, in slices between other work by matchProbesInSlices.
 */
type Search = Generator<void, string[], void>;

/** The names of the index whose bits are set in `bitmap`, in list order, kept when `test` passes (when given). */
function* namesIn(index: NameIndex, bitmap: Int32Array, test: ((name: string) => boolean) | null, weight: number): Search {
  const { names } = index;
  const matched: string[] = [];
  let work = 0;
  for (let word = 0; word < bitmap.length; word += 1) {
    for (let bits = bitmap[word]!; bits !== 0; bits &= bits - 1) {
      const position = (word << 5) | (31 - Math.clz32(bits & -bits));
      // Bits past the end of the list (the last word of "all") are no names.
      if (position >= names.length) break;
      const name = names[position]!;
      if (!test) matched.push(name);
      else {
        if (test(name)) matched.push(name);
        work += (name.length + 1) * weight;
        if (work > STEP_WORK) {
          work = 0;
          yield;
        }
      }
    }
  }
  return matched;
}

function* collectMatching(probes: readonly string[], matches: (probe: string) => boolean, weight: number): Search {
  const matched: string[] = [];
  let work = 0;
  for (const probe of probes) {
    if (matches(probe)) matched.push(probe);
    work += (probe.length + 1) * weight;
    if (work > STEP_WORK) {
      work = 0;
      yield;
    }
  }
  return matched;
}

// eslint-disable-next-line require-yield -- a search with nothing to test still has the shape of one
function* answered(names: string[]): Search {
  return names;
}

function search(probes: readonly string[], filter: string | undefined): Search {
  const wanted = filter?.trim() ?? "";
  if (wanted === "") return answered([...probes]);
  const compiledFilter = remember(compiledFilters, wanted, () => compileFilter(wanted));
  if (compiledFilter.all) return answered([...probes]);
  const weight = wanted.length + 1;
  const index = compiledFilter.narrowable ? indexFor(probes) : null;
  if (!index) return collectMatching(probes, compiledFilter.test, weight);
  let members: Int32Array | null = null;
  if (compiledFilter.provider !== null) {
    members = index.byProvider.get(compiledFilter.provider) ?? null;
    if (!members) return answered([]);
    if (compiledFilter.wholeProvider) return namesIn(index, members, null, weight);
  }
  return namesIn(index, candidates(index, members, compiledFilter.required), compiledFilter.test, weight);
}

/** Probes matching `filter`: a plain word is a substring search, anything else a whole-name glob. */
export function matchProbes(probes: readonly string[], filter: string | undefined): string[] {
  const steps = search(probes, filter);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** How long a search may hold the event loop before it lets other work run. */
const SLICE_MS = 4;

/**
 * What matchProbes answers, searched in slices of at most a few milliseconds with the event loop
 * free between them, so a costly filter over a long list never stops the server answering others.
 */
export async function matchProbesInSlices(probes: readonly string[], filter: string | undefined): Promise<string[]> {
  const steps = search(probes, filter);
  for (;;) {
    const sliceStart = performance.now();
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
      if (performance.now() - sliceStart >= SLICE_MS) break;
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
