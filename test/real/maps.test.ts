// Maps as data against the real bpftrace: what get_result parses from bpftrace's text printing is
// what bpftrace printed, and what bpftrace -f json says of the same program, for every map kind.
import { spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ParsedMap } from "../../src/bpftrace/maps.js";
import { parseMapsText } from "../../src/bpftrace/parse-maps.js";
import { asJson, jsonMaps } from "../helpers/map-json.js";
import { RAW_PAGE } from "../helpers/output-lines.js";
import { describeReal, realBpftrace } from "../helpers/real-bpftrace.js";
import { startServer, textOf, type RunningServer } from "../helpers/server-process.js";

const program = (name: string): string => readFileSync(new URL(`../fixtures/bpftrace-output/programs/${name}.bt`, import.meta.url), "utf8");

interface MapView {
  name: string;
  kind: string;
  origin: string;
  entries_total: number;
  entries: (Record<string, unknown> & { key: unknown[] })[];
}

/** A map as get_result shows it (hist buckets as [low, high, count] of the non-empty ones) back in the data model. */
function fromView(view: MapView): ParsedMap {
  if (view.kind !== "hist") return { name: view.name, kind: view.kind, entries: view.entries, entries_total: view.entries_total } as unknown as ParsedMap;
  return {
    name: view.name,
    kind: "hist",
    entries_total: view.entries_total,
    entries: view.entries.map((entry) => ({ ...entry, buckets: (entry.buckets as [number | null, number | null, number][]).map(([low, high, count]) => ({ low, high, count })) })),
  } as unknown as ParsedMap;
}

/** get_result leaves out empty hist buckets: so does the comparison. */
function withoutEmptyBuckets(entries: Map<string, unknown> | undefined): Map<string, unknown> | undefined {
  if (!entries) return entries;
  return new Map([...entries].map(([key, value]) => [key, Array.isArray(value) ? value.filter((bucket: { count: number }) => bucket.count > 0) : value]));
}

describeReal("maps parsed from the real bpftrace's printing", () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer();
    // With the tools listed, the SDK client checks every result against its advertised output schema.
    await server.client.listTools();
  });

  afterAll(async () => {
    await server?.close();
  });

  /** Runs `source` to its end (opening a file now and then, for probes on openat); returns the maps get_result gives (top 1000) and every line as printed. */
  async function run(source: string, timeout = 5): Promise<{ maps: MapView[]; raw: string[]; status: string }> {
    const started = await server.call("exec_program", { program: source, timeout });
    expect(started.isError, textOf(started)).toBeFalsy();
    const executionId = (started.structuredContent as { execution_id: string }).execution_id;
    const opener = setInterval(() => closeSync(openSync("/etc/hostname", "r")), 50);
    let answer: { maps: MapView[]; status: string };
    try {
      answer = (await server.call("get_result", { execution_id: executionId, until: "end", top: 1000 })).structuredContent as { maps: MapView[]; status: string };
    } finally {
      clearInterval(opener);
    }
    const raw = (await server.call("get_result", { execution_id: executionId, ...RAW_PAGE, limit: 10_000 })).structuredContent as { lines: string[]; stderr: number[] };
    const stderr = new Set(raw.stderr);
    return { maps: answer.maps, raw: raw.lines.filter((_line, index) => !stderr.has(index)), status: answer.status };
  }

  it("parses every map kind (values, keyed, multi-key, strings, hist, lhist, stats, avg/min/max) as bpftrace printed it and as -f json reports it", async () => {
    const source = program("map-kinds");
    const { maps, raw } = await run(source);
    const byName = new Map(maps.map((map) => [map.name, map]));
    expect(byName.get("@count")?.entries).toEqual([{ key: [], value: 2 }]);
    expect(byName.get("@by_comm_pid")?.entries).toEqual([
      { key: ["sshd", 222], value: 2 },
      { key: ["systemd", 1], value: 1 },
    ]);
    expect(byName.get("@text")?.entries).toEqual([
      { key: [1], value: "hello" },
      { key: [2], value: "world, with: colon" },
    ]);
    expect(byName.get("@stats_keyed")?.entries[0]).toEqual({ key: ["a"], count: 2, average: 4, total: 8 });
    expect(byName.get("@hist_keyed")?.entries[0]).toMatchObject({ key: ["read"], total: 3, p50: 48 });
    expect(byName.get("@lhist_keyed")?.entries[0]?.buckets).toEqual([
      [null, 0, 1],
      [50, 60, 1],
      [100, null, 1],
    ]);
    // The same maps parsed from the text lines get_result keeps.
    const fromText = new Map(parseMapsText(raw.join("\n")).map((map) => [map.name, map]));
    // And bpftrace's own JSON output of the same program, run directly.
    const real = realBpftrace();
    const json = spawnSync(real.path, ["-f", "json", "-e", source], { encoding: "utf8", timeout: 60_000 });
    const reported = jsonMaps(json.stdout);
    expect(maps.map((map) => map.name).sort()).toEqual([...reported.keys()].sort());
    for (const view of maps) {
      const parsed = fromView(view);
      expect(asJson(parsed), `${view.name} against -f json`).toEqual(withoutEmptyBuckets(reported.get(view.name)));
      const text = fromText.get(view.name);
      expect(text, view.name).toBeDefined();
      expect(asJson(parsed), `${view.name} against the text`).toEqual(withoutEmptyBuckets(asJson(text as ParsedMap)));
    }
  });

  it("parses stack keys (kstack, ustack, perf mode, beside other parts) into frame arrays", async () => {
    const { maps } = await run(program("map-stacks"));
    const byName = new Map(maps.map((map) => [map.name, map]));
    const kernel = byName.get("@kernel")?.entries[0]?.key[0];
    // (Seen once on 0.27, not reproduced in 20 runs since: @kernel without a stack key. The maps say why.)
    expect(Array.isArray(kernel) ? kernel.length : -1, JSON.stringify(maps).slice(0, 2_000)).toBeGreaterThan(0);
    expect((kernel as string[]).every((frame) => /\S/.test(frame) && !frame.startsWith(" "))).toBe(true);
    const both = byName.get("@both")?.entries[0]?.key;
    expect(both?.length).toBe(3);
    expect(Array.isArray(both?.[1]) && Array.isArray(both?.[2])).toBe(true);
    expect((byName.get("@perf")?.entries[0]?.key[0] as string[])[0]).toMatch(/^[0-9a-f]+ \S+/);
  });

  it("keeps the largest entries of a huge map and its full count", async () => {
    const { maps } = await run(program("map-huge"), 20);
    const [huge] = maps;
    expect(huge?.name).toBe("@huge");
    expect(huge?.entries_total).toBeGreaterThanOrEqual(3000);
    expect(huge?.entries).toHaveLength(1000);
    const top = (huge?.entries_total ?? 0) - 1;
    expect(huge?.entries[0]).toEqual({ key: [top], value: top * 3 });
  });

  it("tells END's print() and bpftrace's maps at exit (end) from a SIGUSR1 snapshot", async () => {
    const started = await server.call("exec_program", { program: "interval:ms:10 { @ticks = count(); @h = hist(5); } END { print(@ticks); clear(@ticks); }", timeout: 20 });
    const executionId = (started.structuredContent as { execution_id: string }).execution_id;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const snapshot = (await server.call("get_result", { execution_id: executionId, snapshot_maps: true })).structuredContent as { maps: MapView[] };
    expect(snapshot.maps.find((map) => map.name === "@ticks")).toMatchObject({ origin: "snapshot" });
    await server.call("stop_execution", { execution_id: executionId });
    const end = (await server.call("get_result", { execution_id: executionId, until: "end" })).structuredContent as { maps: MapView[]; status: string };
    expect(end.status).toBe("stopped");
    expect(end.maps.find((map) => map.name === "@ticks")).toMatchObject({ origin: "end", kind: "value" });
    expect(end.maps.find((map) => map.name === "@h")).toMatchObject({ origin: "end", kind: "hist" });
  });

  it("gives an empty exit printing (every map cleared in END) as no map and no blank lines", async () => {
    const { maps, raw } = await run(program("map-empty"));
    expect(maps.filter((map) => map.name !== "@also_gone")).toEqual([]);
    const answer = raw.filter((line) => line.trim() !== "" && !line.startsWith("@also_gone"));
    expect(answer).toEqual([]);
  });
});
