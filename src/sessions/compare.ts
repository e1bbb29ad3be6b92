// Two runs' maps side by side, map by map: what appeared, what went away, what changed most, and
// how each histogram moved. Pure: it reads MapsPrint values (src/bpftrace/maps.ts), nothing else.
import type { MapKeyPart, MapsPrint, ParsedMap } from "../bpftrace/maps.js";

/** How one key's number moved: `relative` is the change over `before` (null when before was 0). */
export interface KeyChange {
  key: string;
  before: number | null;
  after: number | null;
  delta: number;
  relative: number | null;
}

/** One hist/lhist key's movement. Each pair is [before, after]. */
export interface HistShift {
  key: string;
  total: [number, number];
  p50: [number | null, number | null];
  p90: [number | null, number | null];
  p99: [number | null, number | null];
}

export interface MapComparison {
  name: string;
  kind: ParsedMap["kind"];
  /** Entries in each run (as printed: entries_total). */
  keys: [number, number];
  appeared: string[];
  disappeared: string[];
  /** Sum of the values (value maps), of the totals (hist, stats): [before, after]. */
  total: [number, number];
  /** Largest absolute changes first (keys in either run). */
  largest: KeyChange[];
  /** Largest relative changes first (keys in both runs). */
  largest_relative: KeyChange[];
  hist: HistShift[];
  /** Keys of text maps whose value changed. */
  changed_text: number;
}

export interface Comparison {
  maps: MapComparison[];
  /** Maps only one run printed, and what could not be compared. */
  notes: string[];
}

/** The printing that stands for a run: its end, else its last snapshot. */
export function finalMaps(prints: readonly MapsPrint[]): ParsedMap[] | null {
  const end = prints.filter((print) => print.origin === "end").at(-1);
  return (end ?? prints.at(-1))?.maps ?? null;
}

/** Compares the maps of two runs; `top` bounds each list. */
export function compareMaps(before: readonly MapsPrint[], after: readonly MapsPrint[], top = 5): Comparison {
  const notes: string[] = [];
  const beforeMaps = finalMaps(before);
  const afterMaps = finalMaps(after);
  if (beforeMaps === null) notes.push("the before run has no parsed maps");
  if (afterMaps === null) notes.push("the after run has no parsed maps");
  const byName = (maps: ParsedMap[] | null): Map<string, ParsedMap> => new Map((maps ?? []).map((map) => [map.name, map]));
  const left = byName(beforeMaps);
  const right = byName(afterMaps);
  const maps: MapComparison[] = [];
  for (const [name, map] of left) {
    const other = right.get(name);
    if (!other) notes.push(`${name} was printed only before`);
    else if (other.kind !== map.kind) notes.push(`${name} changed kind (${map.kind} → ${other.kind}): not compared`);
    else maps.push(compareMap(map, other, top));
  }
  for (const name of right.keys()) if (!left.has(name)) notes.push(`${name} was printed only after`);
  for (const [name, map] of [...left, ...right]) {
    if (map.entries_total > map.entries.length && !notes.some((note) => note.startsWith(`${name} kept`))) {
      notes.push(`${name} kept its ${map.entries.length} largest of ${map.entries_total} entries: keys beyond them are not compared`);
    }
  }
  return { maps, notes };
}

function compareMap(before: ParsedMap, after: ParsedMap, top: number): MapComparison {
  const left = numbersOf(before);
  const right = numbersOf(after);
  const appeared = [...right.keys()].filter((key) => !left.has(key));
  const disappeared = [...left.keys()].filter((key) => !right.has(key));
  const changes: KeyChange[] = [];
  for (const key of new Set([...left.keys(), ...right.keys()])) {
    const was = left.get(key) ?? null;
    const now = right.get(key) ?? null;
    const delta = (now ?? 0) - (was ?? 0);
    changes.push({ key, before: was, after: now, delta, relative: was !== null && was !== 0 && now !== null ? delta / Math.abs(was) : null });
  }
  const sum = (values: Map<string, number>): number => [...values.values()].reduce((total, value) => total + value, 0);
  return {
    name: before.name,
    kind: before.kind,
    keys: [before.entries_total, after.entries_total],
    appeared: appeared.slice(0, top),
    disappeared: disappeared.slice(0, top),
    total: [sum(left), sum(right)],
    largest: changes.filter((change) => change.delta !== 0).sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta)).slice(0, top),
    largest_relative: changes.filter((change) => change.relative !== null && change.relative !== 0).sort((a, b) => Math.abs(b.relative ?? 0) - Math.abs(a.relative ?? 0)).slice(0, top),
    hist: before.kind === "hist" && after.kind === "hist" ? histShifts(before, after, top) : [],
    changed_text: before.kind === "text" && after.kind === "text" ? changedText(before, after) : 0,
  };
}

/** Each key's number: the value, the hist total, or the stats total; text maps count 1 per key. */
function numbersOf(map: ParsedMap): Map<string, number> {
  const numbers = new Map<string, number>();
  for (const entry of map.entries) {
    const key = keyText(entry.key);
    if (map.kind === "value") numbers.set(key, (entry as { value: number }).value);
    else if (map.kind === "hist" || map.kind === "stats") numbers.set(key, (entry as { total: number }).total);
    else numbers.set(key, 1);
  }
  return numbers;
}

function histShifts(before: Extract<ParsedMap, { kind: "hist" }>, after: Extract<ParsedMap, { kind: "hist" }>, top: number): HistShift[] {
  const left = new Map(before.entries.map((entry) => [keyText(entry.key), entry]));
  const shifts: HistShift[] = [];
  for (const entry of after.entries) {
    const was = left.get(keyText(entry.key));
    if (!was) continue;
    shifts.push({ key: keyText(entry.key), total: [was.total, entry.total], p50: [was.p50, entry.p50], p90: [was.p90, entry.p90], p99: [was.p99, entry.p99] });
  }
  return shifts.sort((a, b) => b.total[1] - a.total[1]).slice(0, top);
}

function changedText(before: Extract<ParsedMap, { kind: "text" }>, after: Extract<ParsedMap, { kind: "text" }>): number {
  const left = new Map(before.entries.map((entry) => [keyText(entry.key), entry.value]));
  return after.entries.filter((entry) => left.has(keyText(entry.key)) && left.get(keyText(entry.key)) !== entry.value).length;
}

/** A key as bpftrace prints it inside brackets; a stack's frames joined by ";". */
export function keyText(key: readonly MapKeyPart[]): string {
  return key.map((part) => (Array.isArray(part) ? part.join(";") : String(part))).join(", ");
}

/** The comparison as a few lines of text for the model. */
export function renderComparison(comparison: Comparison): string[] {
  const out: string[] = [];
  for (const map of comparison.maps) {
    const head = `${map.name} (${map.kind}): ${map.keys[0]} → ${map.keys[1]} keys, total ${fmt(map.total[0])} → ${fmt(map.total[1])}${pct(map.total[0], map.total[1])}`;
    const moved = [map.appeared.length > 0 ? `appeared: ${map.appeared.map(quote).join(", ")}` : "", map.disappeared.length > 0 ? `gone: ${map.disappeared.map(quote).join(", ")}` : ""].filter(Boolean);
    out.push(moved.length > 0 ? `${head}; ${moved.join("; ")}` : head);
    if (map.kind !== "hist" && map.largest.length > 0) out.push(`  largest: ${map.largest.map(describeChange).join("; ")}`);
    for (const shift of map.hist) {
      out.push(`  ${quote(shift.key)} count ${shift.total[0]} → ${shift.total[1]}; p50 ${fmt(shift.p50[0])} → ${fmt(shift.p50[1])}, p90 ${fmt(shift.p90[0])} → ${fmt(shift.p90[1])}, p99 ${fmt(shift.p99[0])} → ${fmt(shift.p99[1])}`);
    }
    if (map.changed_text > 0) out.push(`  ${map.changed_text} keys changed value`);
  }
  for (const note of comparison.notes) out.push(`Note: ${note}`);
  return out;
}

function describeChange(change: KeyChange): string {
  return `${quote(change.key)} ${fmt(change.before)} → ${fmt(change.after)} (${change.delta >= 0 ? "+" : ""}${fmt(change.delta)}${change.relative === null ? "" : `, ${change.relative >= 0 ? "+" : ""}${(change.relative * 100).toFixed(0)}%`})`;
}

function quote(key: string): string {
  return key === "" ? "(no key)" : `[${key}]`;
}

function pct(before: number, after: number): string {
  if (before === 0) return "";
  const relative = (after - before) / Math.abs(before);
  return ` (${relative >= 0 ? "+" : ""}${(relative * 100).toFixed(0)}%)`;
}

function fmt(value: number | null): string {
  if (value === null) return "-";
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}
