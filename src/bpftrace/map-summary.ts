// What the server makes of a parsed map for a reader: percentiles from hist buckets, entries sorted
// largest first and cut to the top N (entries_total keeps the full count).

import type { HistBucket, MapKeyPart, MapsPrint, ParsedMap } from "./maps.js";

/** Entries the server keeps per map and printing (the largest); `entries_total` says how many there were. */
export const MAX_KEPT_ENTRIES = 1_000;

/**
 * The value below which `fraction` of the counts fall, interpolated linearly inside the bucket it
 * lands in. A one-value bucket (`[0]`, `[1]`) gives that value; an open end gives its finite bound.
 */
export function estimatePercentile(buckets: readonly HistBucket[], total: number, fraction: number): number | null {
  if (total <= 0) return null;
  const rank = fraction * total;
  let before = 0;
  for (const bucket of buckets) {
    if (bucket.count > 0 && before + bucket.count >= rank) {
      const { low, high } = bucket;
      if (low === null) return high;
      if (high === null || high - low <= 1) return low;
      return round(low + ((rank - before) / bucket.count) * (high - low));
    }
    before += bucket.count;
  }
  const last = buckets.at(-1);
  return last ? (last.high ?? last.low) : null;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Entries largest first: values by value, hists by total, stats by count; strings keep their order. */
export function sortedLargestFirst(map: ParsedMap): ParsedMap {
  switch (map.kind) {
    case "value":
      return { ...map, entries: [...map.entries].sort((a, b) => b.value - a.value) };
    case "hist":
      return { ...map, entries: [...map.entries].sort((a, b) => b.total - a.total) };
    case "stats":
      return { ...map, entries: [...map.entries].sort((a, b) => b.count - a.count) };
    case "text":
      return map;
  }
}

/** The first `top` entries of an already sorted map; entries_total is unchanged. */
export function topEntries(map: ParsedMap, top: number): ParsedMap {
  if (map.entries.length <= top) return map;
  switch (map.kind) {
    case "value":
      return { ...map, entries: map.entries.slice(0, top) };
    case "hist":
      return { ...map, entries: map.entries.slice(0, top) };
    case "stats":
      return { ...map, entries: map.entries.slice(0, top) };
    case "text":
      return { ...map, entries: map.entries.slice(0, top) };
  }
}

/** Sorted largest first and cut to what the server keeps. */
export function keptMap(map: ParsedMap): ParsedMap {
  return topEntries(sortedLargestFirst(map), MAX_KEPT_ENTRIES);
}

/** The same printing with each map cut to its `top` entries. */
export function topOfPrint(print: MapsPrint, top: number): MapsPrint {
  return { ...print, maps: print.maps.map((map) => topEntries(map, top)) };
}

/** Replaces key parts through `rename(mapName, partIndex, part)` (e.g. syscall numbers → names). */
export function renameKeys(map: ParsedMap, rename: (mapName: string, index: number, part: MapKeyPart) => MapKeyPart): ParsedMap {
  const key = (parts: MapKeyPart[]): MapKeyPart[] => parts.map((part, index) => rename(map.name, index, part));
  switch (map.kind) {
    case "value":
      return { ...map, entries: map.entries.map((entry) => ({ ...entry, key: key(entry.key) })) };
    case "hist":
      return { ...map, entries: map.entries.map((entry) => ({ ...entry, key: key(entry.key) })) };
    case "stats":
      return { ...map, entries: map.entries.map((entry) => ({ ...entry, key: key(entry.key) })) };
    case "text":
      return { ...map, entries: map.entries.map((entry) => ({ ...entry, key: key(entry.key) })) };
  }
}
