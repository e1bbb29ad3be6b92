import { describe, expect, it } from "vitest";
import { addLine, newTally } from "../../bench/lib/output-tally.mjs";
import { matchProbes } from "../../src/bpftrace/parse-probes.js";
import { SYNTHETIC_FILTERS, syntheticProbes } from "../../bench/lib/synthetic-probes.mjs";

describe("bench output tally", () => {
  it("separates printf lines, bpftrace's lost-event reports (on either stream), map prints and stderr", () => {
    const tally = newTally();
    const lines: ["stdout" | "stderr", string][] = [
      ["stdout", "line 0"],
      ["stderr", "Lost 20 events"],
      ["stdout", "Lost 5 events"],
      ["stdout", "line 1"],
      ["stderr", "WARNING: something"],
      ["stdout", ""],
      ["stdout", "@fires: 49249"],
      ["stdout", "@fires: 0"],
    ];
    for (const [stream, text] of lines) addLine(tally, stream, text, "line ");
    expect(tally).toEqual({ lines: 8, printfLines: 2, lostEvents: 25, lostReports: 2, stderrLines: 1, maps: { fires: 49249 } });
  });
});

describe("bench synthetic probe list", () => {
  it("holds 100k distinct names on which every bench filter matches something", () => {
    const probes = syntheticProbes();
    expect(new Set(probes).size).toBe(100_000);
    for (const filter of SYNTHETIC_FILTERS) expect(matchProbes(probes, filter).length, filter).toBeGreaterThan(0);
  });
});
