// bpftrace -f json's printing of maps, and a parsed map in the same terms: an independent reading
// of the same maps to check the text parser against.
import type { ParsedMap } from "../../src/bpftrace/maps.js";

/** What `bpftrace -f json` printed for the same program: per map, each entry's key (spaces dropped, parts joined with ",") and value. */
export function jsonMaps(text: string): Map<string, Map<string, unknown>> {
  const maps = new Map<string, Map<string, unknown>>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    const record = JSON.parse(line) as { type: string; data: Record<string, unknown> };
    if (!["map", "hist", "stats"].includes(record.type)) continue;
    for (const [name, value] of Object.entries(record.data)) {
      const entries = new Map<string, unknown>();
      const keyed = value !== null && typeof value === "object" && !Array.isArray(value) && !(record.type === "stats" && "count" in value);
      if (keyed) for (const [key, entry] of Object.entries(value as Record<string, unknown>)) entries.set(key.replace(/\s/g, ""), entry);
      else entries.set("", value);
      maps.set(name, entries);
    }
  }
  return maps;
}

/** A parsed entry in the JSON's terms. */
export function asJson(map: ParsedMap): Map<string, unknown> {
  const key = (parts: unknown[]): string => parts.map(String).join(",").replace(/\s/g, "");
  const entries = new Map<string, unknown>();
  switch (map.kind) {
    case "value":
    case "text":
      for (const entry of map.entries) entries.set(key(entry.key), entry.value);
      break;
    case "stats":
      for (const entry of map.entries) entries.set(key(entry.key), { count: entry.count, average: entry.average, total: entry.total });
      break;
    case "hist":
      for (const entry of map.entries) {
        entries.set(
          key(entry.key),
          entry.buckets.map((bucket) => ({ ...(bucket.low === null ? {} : { min: bucket.low }), ...(bucket.high === null ? {} : { max: bucket.high - 1 }), count: bucket.count })),
        );
      }
  }
  return entries;
}

