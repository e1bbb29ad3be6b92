import { describe, expect, it } from "vitest";
import type { HistEntry, MapsPrint, ParsedMap } from "../../src/bpftrace/maps.js";
import { compareMaps, renderComparison } from "../../src/sessions/compare.js";

const print = (maps: ParsedMap[], origin: MapsPrint["origin"] = "end"): MapsPrint[] => [{ origin, first_line: 0, maps }];
const values = (name: string, entries: [string, number][]): ParsedMap => ({ name, kind: "value", entries: entries.map(([key, value]) => ({ key: key === "" ? [] : key.split(", ").map((part) => (/^\d+$/.test(part) ? Number(part) : part)), value })), entries_total: entries.length });
const hist = (key: string, total: number, p50: number, p90: number, p99: number): HistEntry => ({ key: [key], buckets: [], total, p50, p90, p99 });

describe("comparing two runs' maps", () => {
  it("names the keys that appeared and disappeared, and the largest absolute and relative changes", () => {
    const before = print([values("@opens", [["bash", 100], ["vim", 10], ["cron", 5]])]);
    const after = print([values("@opens", [["bash", 200], ["vim", 40], ["sshd", 3]])]);
    const { maps, notes } = compareMaps(before, after);
    expect(notes).toEqual([]);
    expect(maps).toHaveLength(1);
    const opens = maps[0]!;
    expect(opens).toMatchObject({ name: "@opens", kind: "value", keys: [3, 3], appeared: ["sshd"], disappeared: ["cron"], total: [115, 243] });
    expect(opens.largest[0]).toEqual({ key: "bash", before: 100, after: 200, delta: 100, relative: 1 });
    expect(opens.largest_relative[0]).toEqual({ key: "vim", before: 10, after: 40, delta: 30, relative: 3 });
  });

  it("splits multi-part keys the way bpftrace prints them and compares histograms by count and percentiles", () => {
    const before = print([values("@by", [["bash, 12", 3]]), { name: "@lat", kind: "hist", entries: [hist("read", 50, 10, 90, 200)], entries_total: 1 }]);
    const after = print([values("@by", [["bash, 12", 6]]), { name: "@lat", kind: "hist", entries: [hist("read", 100, 20, 95, 400)], entries_total: 1 }]);
    const { maps } = compareMaps(before, after);
    expect(maps[0]?.largest[0]?.key).toBe("bash, 12");
    expect(maps[1]?.hist).toEqual([{ key: "read", total: [50, 100], p50: [10, 20], p90: [90, 95], p99: [200, 400] }]);
    expect(renderComparison({ maps, notes: [] }).join("\n")).toContain("[read] count 50 → 100; p50 10 → 20, p90 90 → 95, p99 200 → 400");
  });

  it("uses the end printing over snapshots and says what it could not compare", () => {
    const before = [...print([values("@x", [["a", 1]])], "snapshot"), ...print([values("@x", [["a", 2]]), values("@only_before", [["b", 1]])])];
    const after = print([values("@x", [["a", 4]]), { name: "@only_after", kind: "text", entries: [], entries_total: 0 }]);
    const comparison = compareMaps(before, after);
    expect(comparison.maps[0]?.largest[0]).toMatchObject({ before: 2, after: 4 });
    expect(comparison.notes).toEqual(["@only_before was printed only before", "@only_after was printed only after"]);
    expect(compareMaps([], after).notes).toContain("the before run has no parsed maps");
  });

  it("warns that keys beyond a map's kept top entries are not compared", () => {
    const cut: ParsedMap = { ...values("@big", [["a", 9]]), entries_total: 500 };
    expect(compareMaps(print([cut]), print([cut])).notes).toEqual(["@big kept its 1 largest of 500 entries: keys beyond them are not compared"]);
  });
});
