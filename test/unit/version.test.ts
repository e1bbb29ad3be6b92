import { readFileSync } from "node:fs";
import { describe, it, expect } from "vitest";
import { parseAttachLine, parseVersion, versionTraits, type BpftraceVersion } from "../../src/bpftrace/version.js";

function readFixture(version: string, file: string): string {
  return readFileSync(new URL(`../fixtures/bpftrace-output/${version}/${file}`, import.meta.url), "utf8");
}

function version(major: number, minor: number, patch = 0): BpftraceVersion {
  return { major, minor, patch, text: `${major}.${minor}.${patch}` };
}

describe("parseVersion", () => {
  it.each(["0.17.0", "0.20.4", "0.24.1"])("reads the %s fixture", (fixture) => {
    const [major, minor, patch] = fixture.split(".").map(Number);
    expect(parseVersion(readFixture(fixture, "version.txt"))).toEqual({ major, minor, patch, text: fixture });
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
