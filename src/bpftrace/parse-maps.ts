// Reads bpftrace's text printing of maps (at exit, on SIGUSR1, from print()) into ParsedMap values,
// one line at a time, so the server can parse a map while it arrives and decode nothing else.
// Formats of 0.17 to 0.27 (fixtures in test/fixtures/bpftrace-output/<version>/): `@name: value`,
// `@name[k1, k2]: value`, hist/lhist blocks of `[low, high)  count |@@@|` lines, stats as
// `count N, average N, total N` (0.27: `{ .count = N, ... }`), and stack keys spread over lines
// (`@name[` or `@name[comm, `, one frame per indented line, `, ` between stacks, `]: value`).

import type { HistBucket, HistEntry, MapKeyPart, ParsedMap, StatsEntry, TextEntry, ValueEntry } from "./maps.js";
import { estimatePercentile } from "./map-summary.js";

const ENTRY_START = /^@([A-Za-z_][A-Za-z0-9_]*)?(.*)$/;
const INTEGER = /^-?\d+$/;
const STATS_017 = /^count (-?\d+), average (-?\d+), total (-?\d+)$/;
const STATS_027 = /^\{ \.count = (-?\d+), \.average = (-?\d+), \.total = (-?\d+) \}$/;
// `[1]`, `[2, 4)`, `[1K, 2K)`, `(..., 0)`, `[100, ...)`, then the count and the bar.
const BUCKET = /^([[(])([^\]),]*)(?:, ([^\])]*))?([\])])\s+(\d+)\s+\|[@ ]*\|\s*$/;
const SUFFIX_POWERS: Record<string, number> = { K: 10, M: 20, G: 30, T: 40, P: 50, E: 60 };

/** What the parser made of one line. */
export type LineVerdict = "map" | "blank" | "other";

type Entry = { kind: "value"; key: MapKeyPart[]; value: number } | { kind: "text"; key: MapKeyPart[]; value: string } | { kind: "hist"; key: MapKeyPart[]; buckets: HistBucket[] } | { kind: "stats"; key: MapKeyPart[]; count: number; average: number; total: number };

interface OpenKey {
  name: string;
  /** Key parts finished so far. */
  parts: MapKeyPart[];
  /** Frames of the stack being read, or null between stacks. */
  frames: string[] | null;
}

/**
 * Feeds on bpftrace's map printing line by line and gathers the maps, in the order printed. A line
 * that cannot be part of a map print is answered "other" and changes nothing, so a caller can stop
 * there; blank lines separate maps and end hist blocks.
 */
export class MapPrintParser {
  private readonly maps: { name: string; entries: Entry[] }[] = [];
  private openKey: OpenKey | null = null;
  /** The hist entry whose bucket lines are being read. */
  private hist: { kind: "hist"; key: MapKeyPart[]; buckets: HistBucket[] } | null = null;
  /** Lines accepted as part of a map ("map" verdicts). */
  mapLines = 0;

  /** True while an entry spans lines (a stack key, or a hist's buckets): its next line belongs to it. */
  get midEntry(): boolean {
    return this.openKey !== null || this.hist !== null;
  }

  /** Whether `line` could begin a map print (without feeding it). */
  static startsMap(line: string): boolean {
    const match = ENTRY_START.exec(line);
    return match !== null && /^(?:\[|:)/.test(match[2] ?? "");
  }

  /** Reads one line (without its newline). */
  feed(line: string): LineVerdict {
    if (this.openKey) return this.feedKeyLine(this.openKey, line);
    if (line.trim() === "") {
      this.hist = null;
      return "blank";
    }
    if (this.hist) {
      const bucket = parseBucket(line);
      if (bucket) {
        this.hist.buckets.push(bucket);
        this.mapLines += 1;
        return "map";
      }
      this.hist = null;
    }
    const match = ENTRY_START.exec(line);
    if (!match) return "other";
    const name = `@${match[1] ?? ""}`;
    const rest = match[2] ?? "";
    if (rest.startsWith(":")) {
      this.addEntry(name, [], rest.slice(1));
    } else if (rest.startsWith("[")) {
      const close = keyEnd(rest);
      if (close === -1) {
        // The key goes on over the next lines (a stack, maybe after other parts).
        const key: OpenKey = { name, parts: [], frames: null };
        this.continueKeyText(key, rest.slice(1));
        this.openKey = key;
      } else {
        this.addEntry(name, splitKey(rest.slice(1, close)), rest.slice(close + 2));
      }
    } else {
      return "other";
    }
    this.mapLines += 1;
    return "map";
  }

  /** The maps read so far, entries in printed order and uncut; an entry still open is dropped. */
  finish(): ParsedMap[] {
    this.openKey = null;
    this.hist = null;
    return this.maps.map(({ name, entries }) => toParsedMap(name, entries));
  }

  private feedKeyLine(key: OpenKey, line: string): LineVerdict {
    this.mapLines += 1;
    if (/^\s/.test(line) && line.trim() !== "") {
      // A frame of the stack being read (`    func+12` or, in perf mode, `\taddr func+12`).
      (key.frames ??= []).push(line.trim());
      return "map";
    }
    if (line.startsWith("]")) {
      this.closeStack(key);
      this.openKey = null;
      const valueText = line.startsWith("]:") ? line.slice(2) : line.slice(1);
      this.addEntry(key.name, key.parts, valueText);
      return "map";
    }
    if (line.startsWith(",")) {
      this.closeStack(key);
      this.continueKeyText(key, line.replace(/^, ?/, ""));
      return "map";
    }
    if (line.trim() === "") {
      // An empty stack prints as `@name[` then `]`: a blank line inside a key is a frame-less gap.
      return "map";
    }
    // Anything else inside an open key: the key never closed; give up on this entry.
    this.openKey = null;
    this.mapLines -= 1;
    return this.feed(line);
  }

  /** Text of a key after `[` or `, `: whole parts, then either the end of the key or the start of a stack. */
  private continueKeyText(key: OpenKey, text: string): void {
    const close = keyEnd(`[${text}`);
    if (close !== -1) {
      // `, comm]: 3` after a stack: the rest of the key and the value on one line.
      key.parts.push(...splitKey(text.slice(0, close - 1)));
      this.openKey = null;
      this.addEntry(key.name, key.parts, text.slice(close + 1));
      return;
    }
    // `comm, ` before a stack: the parts so far, the stack comes on the next lines.
    const done = text.replace(/,\s*$/, "");
    if (done.trim() !== "") key.parts.push(...splitKey(done));
    key.frames = [];
  }

  private closeStack(key: OpenKey): void {
    if (key.frames !== null) key.parts.push(key.frames);
    key.frames = null;
  }

  private addEntry(name: string, key: MapKeyPart[], rawValue: string): void {
    const valueText = rawValue.startsWith(" ") ? rawValue.slice(1) : rawValue;
    let entry: Entry;
    const stats = STATS_017.exec(valueText) ?? STATS_027.exec(valueText);
    if (valueText.trim() === "") {
      entry = { kind: "hist", key, buckets: [] };
      this.hist = entry;
    } else if (INTEGER.test(valueText) && Number.isSafeInteger(Number(valueText))) {
      entry = { kind: "value", key, value: Number(valueText) };
    } else if (stats) {
      entry = { kind: "stats", key, count: Number(stats[1]), average: Number(stats[2]), total: Number(stats[3]) };
    } else {
      entry = { kind: "text", key, value: valueText };
    }
    const last = this.maps.at(-1);
    if (last && last.name === name) last.entries.push(entry);
    else this.maps.push({ name, entries: [entry] });
  }
}

/** Every map in `text` (a whole printing; lines that are not map lines are skipped). */
export function parseMapsText(text: string): ParsedMap[] {
  const parser = new MapPrintParser();
  for (const line of text.split("\n")) parser.feed(line.replace(/\r$/, ""));
  return parser.finish();
}

/** Where the key that starts at `text[0] === "["` ends (the index of its `]` before `:`), or -1 if not on this line. */
function keyEnd(text: string): number {
  let depth = 0;
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index];
    if (character === "[") depth += 1;
    else if (character === "]") {
      depth -= 1;
      if (depth === 0 && text[index + 1] === ":") return index;
    }
  }
  // Unbalanced (a string key holding a bracket): the first `]:` will do.
  const fallback = text.indexOf("]:");
  return fallback;
}

/** `comm, 123` → ["comm", 123]. bpftrace joins key parts with ", " (a string holding ", " splits too). */
function splitKey(text: string): MapKeyPart[] {
  if (text === "") return [];
  return text.split(", ").map((part) => (INTEGER.test(part) && Number.isSafeInteger(Number(part)) ? Number(part) : part));
}

/** A hist/lhist bucket line, or null. */
export function parseBucket(line: string): HistBucket | null {
  const match = BUCKET.exec(line);
  if (!match) return null;
  const [, open = "", first = "", second, close = "", countText = "0"] = match;
  const count = Number(countText);
  if (second === undefined) {
    // `[N]`: exactly N, i.e. [N, N+1).
    const value = parseBound(first);
    if (value === null || open !== "[" || close !== "]") return null;
    return { low: value, high: value + 1, count };
  }
  const low = first.trim() === "..." ? null : parseBound(first);
  const high = second.trim() === "..." ? null : parseBound(second);
  if ((low === null && first.trim() !== "...") || (high === null && second.trim() !== "...")) return null;
  return { low, high, count };
}

/** `512`, `-3`, `1K` (hist labels are powers of two: K = 1024). */
function parseBound(text: string): number | null {
  const match = /^\s*(-?\d+)([KMGTPE]?)\s*$/.exec(text);
  if (!match) return null;
  const power = SUFFIX_POWERS[match[2] ?? ""] ?? 0;
  return Number(match[1]) * 2 ** power;
}

function toParsedMap(name: string, entries: Entry[]): ParsedMap {
  const total = entries.length;
  if (entries.every((entry) => entry.kind === "hist")) {
    return { name, kind: "hist", entries: entries.map((entry) => histEntry(entry.key, entry.buckets)), entries_total: total };
  }
  if (entries.every((entry) => entry.kind === "stats")) {
    return { name, kind: "stats", entries: entries.map(({ key, count, average, total: sum }): StatsEntry => ({ key, count, average, total: sum })), entries_total: total };
  }
  if (entries.every((entry) => entry.kind === "value")) {
    return { name, kind: "value", entries: entries.map(({ key, value }): ValueEntry => ({ key, value })), entries_total: total };
  }
  // A map of strings, or a mix the grammar cannot tell apart: every value as printed.
  return { name, kind: "text", entries: entries.map((entry): TextEntry => ({ key: entry.key, value: entryText(entry) })), entries_total: total };
}

function entryText(entry: Entry): string {
  switch (entry.kind) {
    case "text":
      return entry.value;
    case "value":
      return String(entry.value);
    case "stats":
      return `count ${entry.count}, average ${entry.average}, total ${entry.total}`;
    case "hist":
      return entry.buckets.map((bucket) => `${bucket.low ?? "..."}-${bucket.high ?? "..."}:${bucket.count}`).join(" ");
  }
}

/** A hist entry with its total and percentiles. */
export function histEntry(key: MapKeyPart[], buckets: HistBucket[]): HistEntry {
  const total = buckets.reduce((sum, bucket) => sum + bucket.count, 0);
  return { key, buckets, total, p50: estimatePercentile(buckets, total, 0.5), p90: estimatePercentile(buckets, total, 0.9), p99: estimatePercentile(buckets, total, 0.99) };
}
