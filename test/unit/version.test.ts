import { describe, it, expect } from "vitest";
import { parseAttachLine, parseVersion, versionTraits, type BpftraceVersion } from "../../src/bpftrace/version.js";
import { CAPTURED_VERSIONS, expectationsFor, FIXTURE_VERSIONS, fixtureExists, readFixture } from "../fixtures/bpftrace-output/fixtures.js";

function version(major: number, minor: number, patch = 0): BpftraceVersion {
  return { major, minor, patch, text: `${major}.${minor}.${patch}` };
}

describe("parseVersion", () => {
  it.each(FIXTURE_VERSIONS)("reads the %s fixture", (fixture) => {
    expect(parseVersion(readFixture(fixture, "version.txt"))).toEqual(expectationsFor(fixture).version);
    expect(expectationsFor(fixture).version.text).toBe(fixture);
  });

  it.each([
    ["bpftrace v0.20.2", { major: 0, minor: 20, patch: 2, text: "0.20.2" }],
    ["bpftrace v0.24.1-12-gabcdef", { major: 0, minor: 24, patch: 1, text: "0.24.1-12-gabcdef" }],
    ["bpftrace 0.21.0", { major: 0, minor: 21, patch: 0, text: "0.21.0" }],
    ["bpftrace v0.19.1 (Ubuntu 0.19.1-1ubuntu1)", { major: 0, minor: 19, patch: 1, text: "0.19.1" }],
    ["bpftrace v0.16.0-dirty\r\n", { major: 0, minor: 16, patch: 0, text: "0.16.0-dirty" }],
    ["bpftrace v1.2", { major: 1, minor: 2, patch: 0, text: "1.2" }],
    ["WARNING: something\nbpftrace v0.23.4\n", { major: 0, minor: 23, patch: 4, text: "0.23.4" }],
    ["v0.22.1\n", { major: 0, minor: 22, patch: 1, text: "0.22.1" }],
  ])("reads %j", (text, expected) => {
    expect(parseVersion(text)).toEqual(expected);
  });

  it.each(["", "bpftrace", "command not found: bpftrace", "Linux 6.8.0 #1 SMP", "bpftrace vX.Y"])(
    "returns null for %j",
    (text) => {
      expect(parseVersion(text)).toBeNull();
    },
  );
});

describe("versionTraits", () => {
  it("gives 0.17 stderr --info, 'Attaching' on stdout, -d dry runs, SIGUSR1 snapshots and struct listing", () => {
    expect(versionTraits(version(0, 17))).toEqual({
      infoStream: "stderr",
      attachSignal: "stdout-attaching",
      dryRun: "debug-flag",
      mapSnapshotSignal: "SIGUSR1",
      snapshotProbe: false,
      listStructs: true,
      knownGood: true,
    });
  });

  it.each([
    [version(0, 15, 9), { knownGood: false, mapSnapshotSignal: null, listStructs: false }],
    [version(0, 16, 0), { knownGood: true, mapSnapshotSignal: null, dryRun: "debug-flag" }],
    [version(0, 21, 2), { knownGood: true, mapSnapshotSignal: "SIGUSR1", dryRun: "debug-flag", infoStream: "stderr" }],
    [version(0, 22, 0), { mapSnapshotSignal: null, dryRun: "dry-run-flag", infoStream: "stderr" }],
    [version(0, 23, 4), { infoStream: "stdout", attachSignal: "stdout-attaching" }],
    [version(0, 24, 1), { infoStream: "stdout", attachSignal: "stderr-attached", dryRun: "dry-run-flag" }],
    [version(0, 27, 0), { infoStream: "stdout", attachSignal: "stderr-attached", knownGood: true }],
    [version(1, 0, 0), { infoStream: "stdout", attachSignal: "stderr-attached", mapSnapshotSignal: null }],
  ])("looks up %j in the release table", (release, expected) => {
    expect(versionTraits(release)).toMatchObject(expected);
  });

  it("treats an unknown version like 0.17 but sends no SIGUSR1 and claims no compatibility", () => {
    expect(versionTraits(null)).toEqual({
      infoStream: "stderr",
      attachSignal: "stdout-attaching",
      dryRun: "debug-flag",
      mapSnapshotSignal: null,
      snapshotProbe: false,
      listStructs: true,
      knownGood: false,
    });
  });

  it("returns a fresh object callers may change without touching the table", () => {
    const traits = versionTraits(version(0, 17));
    traits.knownGood = false;
    expect(versionTraits(version(0, 17)).knownGood).toBe(true);
  });
});

describe("parseAttachLine", () => {
  it.each([
    ["Attaching 3 probes...", 3],
    ["Attaching 1 probe...", 1],
    ["Attached 3 probes", 3],
    ["Attached 1 probe", 1],
    ["Attached 120 probes\r", 120],
    ["  Attaching 2 probes...", 2],
  ])("reads %j as %d", (line, expected) => {
    expect(parseAttachLine(line)).toBe(expected);
  });

  it.each(["", "Attaching probes...", "@attached: 3", "Attaching BEGIN", "Attached 3 probesxyz", "ERROR: Attaching 3 probes"])(
    "returns null for %j",
    (line) => {
      expect(parseAttachLine(line)).toBeNull();
    },
  );
});

describe.each(CAPTURED_VERSIONS)("the map output recorded from %s", (version) => {
  const expected = expectationsFor(version);

  it("holds every sample: maps as text and as JSON, and a compile error", () => {
    for (const file of ["maps.txt", "maps.json", "error.txt", "list-verbose.txt", "struct.txt"]) expect(fixtureExists(version, file), file).toBe(true);
  });

  it("announces its probes with the attach line this release's traits name", () => {
    const attachLines = readFixture(version, "maps.txt").split("\n").filter((line) => parseAttachLine(line) !== null);
    expect(attachLines.map(parseAttachLine)).toEqual([expected.attachedProbes]);
    const traits = versionTraits(expected.version);
    expect(attachLines[0]).toMatch(traits.attachSignal === "stderr-attached" ? /^Attached / : /^Attaching /);
  });

  it("prints every -f json record as one JSON object per line, maps and histograms by name", () => {
    const records = readFixture(version, "maps.json")
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { type: string; data: Record<string, unknown> });
    expect(records[0]).toMatchObject({ type: "attached_probes", data: { probes: expected.attachedProbes } });
    const byMap = new Map(records.slice(1).map((record) => [Object.keys(record.data)[0], record]));
    expect([...byMap.keys()].sort()).toEqual(["@count", "@hist", "@keyed", "@lhist", "@stack", "@stats"]);
    expect(byMap.get("@count")).toEqual({ type: "map", data: { "@count": 3 } });
    expect(byMap.get("@keyed")?.data["@keyed"]).toEqual({ "open,1": 3, "read,22": 5, "write,333": 7 });
    expect(byMap.get("@hist")?.type).toBe("hist");
    expect(byMap.get("@lhist")?.data["@lhist"]).toEqual([
      { min: 0, max: 9, count: 1 },
      { min: 10, max: 19, count: 1 },
      { min: 20, max: 29, count: 0 },
      { min: 30, max: 39, count: 0 },
      { min: 40, max: 49, count: 1 },
    ]);
    expect(byMap.get("@stats")).toEqual({ type: "stats", data: { "@stats": { count: 3, average: 30, total: 90 } } });
  });

  it("reports the unknown function of the error sample with bpftrace's ERROR prefix", () => {
    expect(readFixture(version, "error.txt")).toMatch(/^\S+:1:14-\d+: ERROR: Unknown function: '?nosuchfunction'?$/m);
  });
});
