// Parsed maps as a reader gets them: the top N entries of each, flat (one item per map, with where
// it was printed), hist buckets as [low, high, count] triples without the empty ones, and a compact
// text rendering for the content block.

import { z } from "zod";
import { topEntries } from "../bpftrace/map-summary.js";
import type { MapKeyPart, MapsPrint, ParsedMap } from "../bpftrace/maps.js";

/** Entries shown per map unless the reader asks for more. */
export const DEFAULT_TOP = 5;

/** The output schema of a map as results carry it (the fields: MapView; README "Maps as data"). */
export const mapViewSchema = z.looseObject({ name: z.string() });

/** A map as results carry it (what mapViewSchema describes). */
export interface MapView {
  name: string;
  kind: ParsedMap["kind"];
  origin: MapsPrint["origin"];
  entries_total: number;
  entries: ({ key: MapKeyPart[] } & Record<string, unknown>)[];
}

/** The maps of `prints`, each cut to its `top` entries (already sorted largest first). */
export function viewMaps(prints: readonly MapsPrint[], top: number): MapView[] {
  return prints.flatMap((print) => print.maps.map((map) => viewMap(map, print.origin, top)));
}

function viewMap(map: ParsedMap, origin: MapsPrint["origin"], top: number): MapView {
  const cut = topEntries(map, top);
  const base = { name: cut.name, kind: cut.kind, origin, entries_total: cut.entries_total };
  if (cut.kind !== "hist") return { ...base, entries: cut.entries.map((entry) => ({ ...entry })) };
  return {
    ...base,
    entries: cut.entries.map(({ key, buckets, total, p50, p90, p99 }) => ({
      key,
      total,
      p50,
      p90,
      p99,
      buckets: buckets.filter((bucket) => bucket.count > 0).map((bucket) => [bucket.low, bucket.high, bucket.count]),
    })),
  };
}

/** "comm, 123, [f1; f2]": a key as one line. */
export function keyText(key: readonly MapKeyPart[]): string {
  return key.map((part) => (Array.isArray(part) ? `[${part.join("; ")}]` : String(part))).join(", ");
}

/** The maps as text: a heading per map, then one line per entry shown. */
export function renderMaps(prints: readonly MapsPrint[], top: number): string[] {
  const out: string[] = [];
  for (const print of prints) {
    for (const map of print.maps) {
      const cut = topEntries(map, top);
      const shown = cut.entries.length < map.entries_total ? `top ${cut.entries.length} of ${map.entries_total}` : `${map.entries_total} ${map.entries_total === 1 ? "entry" : "entries"}`;
      out.push(`${map.name} (${map.kind}, ${shown}${print.origin === "snapshot" ? ", snapshot" : ""}):`);
      for (const line of entryLines(cut)) out.push(`  ${line}`);
    }
  }
  return out;
}

function entryLines(map: ParsedMap): string[] {
  const label = (key: MapKeyPart[]): string => (key.length === 0 ? "" : `[${keyText(key)}]: `);
  switch (map.kind) {
    case "value":
    case "text":
      return map.entries.map((entry) => `${label(entry.key)}${entry.value}`);
    case "stats":
      return map.entries.map((entry) => `${label(entry.key)}count ${entry.count}, average ${entry.average}, total ${entry.total}`);
    case "hist":
      return map.entries.map((entry) => {
        const buckets = entry.buckets
          .filter((bucket) => bucket.count > 0)
          .map((bucket) => `${bucket.low ?? "..."}-${bucket.high ?? "..."}:${bucket.count}`)
          .join(" ");
        return `${label(entry.key)}n=${entry.total} p50=${entry.p50 ?? "-"} p90=${entry.p90 ?? "-"} p99=${entry.p99 ?? "-"} | ${buckets}`;
      });
  }
}
