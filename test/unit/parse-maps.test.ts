import { describe, expect, it } from "vitest";
import { estimatePercentile, keptMap, MAX_KEPT_ENTRIES, sortedLargestFirst, topEntries } from "../../src/bpftrace/map-summary.js";
import type { HistBucket, ParsedMap } from "../../src/bpftrace/maps.js";
import { MapPrintParser, parseBucket, parseMapsText } from "../../src/bpftrace/parse-maps.js";
import { CAPTURED_VERSIONS, readFixture } from "../fixtures/bpftrace-output/fixtures.js";
import { asJson, jsonMaps } from "../helpers/map-json.js";

describe.each(CAPTURED_VERSIONS)("parseMapsText on bpftrace %s's printing", (version) => {
  const kinds = parseMapsText(readFixture(version, "map-kinds.txt"));
  const byName = new Map(kinds.map((map) => [map.name, map]));

  it("reads every map kind the program made, with the values bpftrace printed", () => {
    expect(kinds.map((map) => map.name).sort()).toEqual(
      ["@avg", "@avg_keyed", "@big", "@by_comm", "@by_comm_pid", "@count", "@hist_keyed", "@hist_negative", "@lhist_keyed", "@max", "@min", "@negative", "@plain", "@space_key", "@stats_keyed", "@sum", "@text"].sort(),
    );
    expect(byName.get("@count")).toEqual({ name: "@count", kind: "value", entries: [{ key: [], value: 2 }], entries_total: 1 });
    expect(byName.get("@avg")?.entries).toEqual([{ key: [], value: 15 }]);
    expect(byName.get("@negative")?.entries).toEqual([{ key: [], value: -5 }]);
    expect(byName.get("@big")?.entries).toEqual([{ key: [], value: 123456789012 }]);
    expect(sortedLargestFirst(byName.get("@by_comm_pid") as ParsedMap).entries).toEqual([
      { key: ["sshd", 222], value: 2 },
      { key: ["systemd", 1], value: 1 },
    ]);
    expect(byName.get("@space_key")?.entries).toEqual([{ key: ["hello world", 7], value: 3 }]);
    expect(byName.get("@text")).toMatchObject({ kind: "text", entries: [{ key: [1], value: "hello" }, { key: [2], value: "world, with: colon" }] });
    expect(sortedLargestFirst(byName.get("@stats_keyed") as ParsedMap)).toMatchObject({ kind: "stats", entries: [{ key: ["a"], count: 2, average: 4, total: 8 }, { key: ["b"], count: 1, average: 100, total: 100 }] });
  });

  it("reads hist and lhist buckets with their bounds, open ends included, and estimates percentiles", () => {
    const hist = sortedLargestFirst(byName.get("@hist_keyed") as ParsedMap);
    expect(hist.kind).toBe("hist");
    if (hist.kind !== "hist") return;
    const [read, write] = hist.entries;
    expect(read?.key).toEqual(["read"]);
    expect(read?.total).toBe(3);
    expect(read?.buckets.filter((bucket) => bucket.count > 0)).toEqual([
      { low: 4, high: 8, count: 1 },
      { low: 32, high: 64, count: 1 },
      { low: 2048, high: 4096, count: 1 },
    ]);
    expect(read?.p50).toBe(48);
    expect(write).toMatchObject({ key: ["write"], total: 1, buckets: [{ low: 0, high: 1, count: 1 }], p50: 0, p99: 0 });
    const negative = byName.get("@hist_negative");
    expect(negative?.kind === "hist" && negative.entries[0]?.buckets[0]).toEqual({ low: null, high: 0, count: 1 });
    const lhist = byName.get("@lhist_keyed");
    if (lhist?.kind !== "hist") throw new Error("@lhist_keyed is not a hist");
    expect(lhist.entries[0]?.buckets.at(0)).toEqual({ low: null, high: 0, count: 1 });
    expect(lhist.entries[0]?.buckets.at(-1)).toEqual({ low: 100, high: null, count: 1 });
    expect(lhist.entries[0]).toMatchObject({ total: 3, p50: 55, p90: 100 });
  });

  it("agrees with what bpftrace -f json printed for the same program, for every map that is not a stack", () => {
    const json = jsonMaps(readFixture(version, "map-kinds.json"));
    for (const map of kinds) {
      const expected = json.get(map.name);
      expect(expected, map.name).toBeDefined();
      expect(asJson(map), map.name).toEqual(expected);
    }
    const older = jsonMaps(readFixture(version, "maps.json"));
    for (const map of parseMapsText(readFixture(version, "maps.txt"))) {
      if (map.name === "@stack") continue;
      expect(asJson(map), map.name).toEqual(older.get(map.name));
    }
  });

  it("reads stack keys as frame arrays, innermost first, alone or beside other key parts", () => {
    const stacks = new Map(parseMapsText(readFixture(version, "map-stacks.txt")).map((map) => [map.name, map]));
    const kernel = stacks.get("@kernel")?.entries[0]?.key;
    expect(kernel).toEqual([["perf_syscall_enter+475", "syscall_trace_enter+384", "do_syscall_64+527"]]);
    const both = stacks.get("@both")?.entries[0]?.key;
    expect(both).toHaveLength(3);
    expect(typeof both?.[0]).toBe("string");
    expect(both?.[1]).toEqual(["perf_syscall_enter+475", "syscall_trace_enter+384"]);
    expect(Array.isArray(both?.[2]) && both[2].length).toBe(2);
    expect(stacks.get("@perf")?.entries[0]?.key).toEqual([["ffffffff814c44eb perf_syscall_enter+475", "ffffffff81425010 syscall_trace_enter+384"]]);
    expect(Array.isArray(stacks.get("@user")?.entries[0]?.key[0])).toBe(true);
  });

  it("keeps a huge map's largest entries and says how many it had", () => {
    const [huge] = parseMapsText(readFixture(version, "map-huge.txt"));
    expect(huge?.entries_total).toBeGreaterThanOrEqual(3000);
    const kept = keptMap(huge as ParsedMap);
    expect(kept.entries).toHaveLength(MAX_KEPT_ENTRIES);
    expect(kept.entries_total).toBe(huge?.entries_total);
    const total = huge?.entries_total ?? 0;
    expect(kept.entries[0]).toEqual({ key: [total - 1], value: (total - 1) * 3 });
    expect(topEntries(kept, 3).entries.map((entry) => entry.key[0])).toEqual([total - 1, total - 2, total - 3]);
  });

  it("finds no map in a printing whose maps were all cleared, and no value where none was printed", () => {
    const maps = parseMapsText(readFixture(version, "map-empty.txt"));
    // clear() on a count leaves it printed as 0 on 0.17 and 0.23; 0.27 prints nothing.
    expect(maps.every((map) => map.name === "@also_gone" && map.entries.every((entry) => "value" in entry && entry.value === 0))).toBe(true);
    expect(maps.some((map) => map.name === "@gone")).toBe(false);
  });
});

describe("MapPrintParser", () => {
  it("tells map lines from blank lines and from other output, line by line", () => {
    const parser = new MapPrintParser();
    expect(parser.feed("@a[x]: 1")).toBe("map");
    expect(parser.feed("")).toBe("blank");
    expect(parser.feed("@h:")).toBe("map");
    expect(parser.midEntry).toBe(true);
    expect(parser.feed("[4, 8)                 3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|")).toBe("map");
    expect(parser.feed("tick 12")).toBe("other");
    expect(parser.finish()).toMatchObject([{ name: "@a" }, { name: "@h", kind: "hist", entries: [{ total: 3 }] }]);
    expect(MapPrintParser.startsMap("@x: 1")).toBe(true);
    expect(MapPrintParser.startsMap("@[comm]: 1")).toBe(true);
    expect(MapPrintParser.startsMap("@ home")).toBe(false);
  });

  it("reads the anonymous map @", () => {
    expect(parseMapsText("@[bash, 12]: 7\n@: 3\n")).toEqual([{ name: "@", kind: "value", entries: [{ key: ["bash", 12], value: 7 }, { key: [], value: 3 }], entries_total: 2 }]);
  });

  it("reads hist labels with K, M and G suffixes as powers of two", () => {
    expect(parseBucket("[1K, 2K)               5 |@@@@                                                |")).toEqual({ low: 1024, high: 2048, count: 5 });
    expect(parseBucket("[4M, 8M)               1 |@                                                   |")).toEqual({ low: 4 * 2 ** 20, high: 8 * 2 ** 20, count: 1 });
    expect(parseBucket("[1G, ...)              1 |@                                                   |")).toEqual({ low: 2 ** 30, high: null, count: 1 });
    expect(parseBucket("tick [1, 2) 3 |@|")).toBeNull();
  });
});

describe("estimatePercentile", () => {
  const buckets: HistBucket[] = [
    { low: 0, high: 10, count: 50 },
    { low: 10, high: 20, count: 40 },
    { low: 20, high: 40, count: 10 },
  ];
  it("interpolates inside the bucket the rank falls in", () => {
    expect(estimatePercentile(buckets, 100, 0.5)).toBe(10);
    expect(estimatePercentile(buckets, 100, 0.9)).toBe(20);
    expect(estimatePercentile(buckets, 100, 0.95)).toBe(30);
    expect(estimatePercentile(buckets, 100, 0.25)).toBe(5);
  });
  it("gives nothing for an empty hist and the finite bound for an open end", () => {
    expect(estimatePercentile([], 0, 0.5)).toBeNull();
    expect(estimatePercentile([{ low: 100, high: null, count: 4 }], 4, 0.99)).toBe(100);
    expect(estimatePercentile([{ low: null, high: 0, count: 4 }], 4, 0.5)).toBe(0);
  });
});
