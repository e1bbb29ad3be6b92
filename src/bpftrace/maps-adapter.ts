// TEMPORARY (issue 19): a minimal reader of the maps bpftrace prints at exit, so stored runs and
// comparisons have maps before the parser of issue 16 (which sets Execution.maps itself) lands.
// It reads plain numbers (count, sum, ...) and hist/lhist; remove it when that parser is merged.
import type { OutputRing } from "../executions/ring-buffer.js";
import type { HistBucket, HistEntry, MapKeyPart, MapsPrint, ParsedMap, ValueEntry } from "./maps.js";

const VALUE_LINE = /^(@[A-Za-z0-9_]*)(?:\[(.*)\])?: (-?\d+)$/;
const HIST_HEAD = /^(@[A-Za-z0-9_]*)(?:\[(.*)\])?: ?$/;
const BUCKET_LINE = /^[[(](-?[\d.]+[KMGTPE]?)(?:, ?(-?[\d.]+[KMGTPE]?|\.\.\.))?[)\]]\s+(\d+) \|/;
const UNITS: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50, E: 2 ** 60 };
const MAX_LINES = 100_000;

/** The maps printed in the kept output (the last printing of each key wins), as one "end" print; [] when none. */
export function parseEndMaps(ring: OutputRing): MapsPrint[] {
  const from = Math.max(ring.firstAvailable, ring.linesTotal - MAX_LINES);
  const { lines } = ring.read(from, ring.linesTotal - from);
  const values = new Map<string, Map<string, ValueEntry>>();
  const hists = new Map<string, Map<string, HistEntry>>();
  let firstLine: number | null = null;
  let open: HistEntry | null = null;
  lines.forEach((line, index) => {
    if (line.stream !== "stdout") return;
    const bucket = open ? BUCKET_LINE.exec(line.text) : null;
    if (open && bucket) {
      open.buckets.push({ low: bound(bucket[1]), high: bucket[2] === undefined ? bound(bucket[1]) : bucket[2] === "..." ? null : bound(bucket[2]), count: Number(bucket[3]) });
      return;
    }
    open = null;
    const value = VALUE_LINE.exec(line.text);
    const head = value ? null : HIST_HEAD.exec(line.text);
    const match = value ?? head;
    if (!match) return;
    firstLine ??= from + index;
    const name = match[1] ?? "@";
    const keyText = match[2] ?? "";
    if (value) {
      const entries = values.get(name) ?? new Map<string, ValueEntry>();
      entries.set(keyText, { key: keyParts(keyText), value: Number(value[3]) });
      values.set(name, entries);
    } else {
      open = { key: keyParts(keyText), buckets: [], total: 0, p50: null, p90: null, p99: null };
      const entries = hists.get(name) ?? new Map<string, HistEntry>();
      entries.set(keyText, open);
      hists.set(name, entries);
    }
  });
  const maps: ParsedMap[] = [];
  for (const [name, entries] of values) {
    const sorted = [...entries.values()].sort((a, b) => b.value - a.value);
    maps.push({ name, kind: "value", entries: sorted, entries_total: sorted.length });
  }
  for (const [name, entries] of hists) {
    const filled = [...entries.values()].filter((entry) => entry.buckets.length > 0).map(withPercentiles).sort((a, b) => b.total - a.total);
    if (filled.length > 0) maps.push({ name, kind: "hist", entries: filled, entries_total: filled.length });
  }
  return maps.length === 0 || firstLine === null ? [] : [{ origin: "end", first_line: firstLine, maps }];
}

function keyParts(text: string): MapKeyPart[] {
  if (text === "") return [];
  return text.split(", ").map((part) => (/^-?\d+$/.test(part) ? Number(part) : part));
}

function bound(text: string | undefined): number | null {
  if (text === undefined) return null;
  const unit = UNITS[text.slice(-1)];
  return unit === undefined ? Number(text) : Number(text.slice(0, -1)) * unit;
}

function withPercentiles(entry: HistEntry): HistEntry {
  const total = entry.buckets.reduce((sum, bucket) => sum + bucket.count, 0);
  return { ...entry, total, p50: percentile(entry.buckets, total, 0.5), p90: percentile(entry.buckets, total, 0.9), p99: percentile(entry.buckets, total, 0.99) };
}

/** Linear interpolation inside the bucket the rank falls in. */
function percentile(buckets: HistBucket[], total: number, fraction: number): number | null {
  if (total === 0) return null;
  const rank = fraction * total;
  let seen = 0;
  for (const bucket of buckets) {
    if (bucket.count > 0 && seen + bucket.count >= rank) {
      const low = bucket.low ?? bucket.high ?? 0;
      const high = bucket.high ?? low;
      return low + ((rank - seen) / bucket.count) * (high - low);
    }
    seen += bucket.count;
  }
  return buckets.at(-1)?.high ?? null;
}
