/** A bpftrace release as reported by `bpftrace --version`. */
export interface BpftraceVersion {
  major: number;
  minor: number;
  patch: number;
  /** The version token without the leading "v", suffixes kept: "0.24.1-12-gabcdef". */
  text: string;
}

/** How a bpftrace release behaves where releases differ. */
export interface VersionTraits {
  /** Stream `--info` is printed on (stderr before 0.23). */
  infoStream: "stderr" | "stdout";
  /** "Attaching N probes..." on stdout before 0.24; "Attached N probes" on stderr from 0.24. */
  attachSignal: "stdout-attaching" | "stderr-attached";
  /** `--dry-run` from 0.22; before that `-d` (prints AST and IR on stdout, exits without attaching). */
  dryRun: "dry-run-flag" | "debug-flag";
  /** Signal that makes bpftrace print its maps and keep running; null when unsupported or unknown. */
  mapSnapshotSignal: "SIGUSR1" | null;
  /** `self:signal:SIGUSR1` probes exist (0.22+): the server adds one that prints the maps. */
  snapshotProbe: boolean;
  /** `bpftrace -lv 'struct X'` prints the layout from BTF. */
  listStructs: boolean;
  /** Versions we have tested or believe compatible (>= 0.16). */
  knownGood: boolean;
}

// "bpftrace v0.17.0", "bpftrace 0.21.0", "bpftrace v0.24.1-12-gabcdef", "bpftrace v0.20.2 (Ubuntu ...)".
const NAMED_VERSION = /\bbpftrace\s+v?(\d+)\.(\d+)(?:\.(\d+))?([^\s()]*)/i;
// A bare token on its own line, as in --info's "version: v0.17.0" value.
const BARE_VERSION = /^\s*v?(\d+)\.(\d+)(?:\.(\d+))?([^\s()]*)\s*$/m;

/** Parses the output of `bpftrace --version`; null when no version can be found. */
export function parseVersion(text: string): BpftraceVersion | null {
  const match = NAMED_VERSION.exec(text) ?? BARE_VERSION.exec(text);
  if (!match) return null;
  const [, major = "", minor = "", patch, suffix = ""] = match;
  const version = {
    major: Number(major),
    minor: Number(minor),
    patch: patch === undefined ? 0 : Number(patch),
  };
  if (![version.major, version.minor, version.patch].every(Number.isSafeInteger)) return null;
  const core = `${major}.${minor}${patch === undefined ? "" : `.${patch}`}`;
  return { ...version, text: `${core}${suffix}` };
}

interface TraitsRow {
  from: readonly [major: number, minor: number];
  traits: VersionTraits;
}

const BEFORE_KNOWN_GOOD: VersionTraits = {
  infoStream: "stderr",
  attachSignal: "stdout-attaching",
  dryRun: "debug-flag",
  mapSnapshotSignal: null,
  snapshotProbe: false,
  listStructs: false,
  knownGood: false,
};

// Ordered oldest first; a version takes the last row whose `from` it has reached.
// Each row states every trait so a row can be read on its own.
const TRAITS_BY_RELEASE: readonly TraitsRow[] = [
  { from: [0, 0], traits: BEFORE_KNOWN_GOOD },
  // 0.16: believed compatible, but SIGUSR1 and struct listing are not verified there.
  { from: [0, 16], traits: { ...BEFORE_KNOWN_GOOD, knownGood: true } },
  // 0.17: verified here (SIGUSR1 prints maps and keeps running; -lv 'struct path' prints BTF layout).
  { from: [0, 17], traits: { ...BEFORE_KNOWN_GOOD, knownGood: true, mapSnapshotSignal: "SIGUSR1", listStructs: true } },
  // 0.22: --dry-run added, -d now needs a stage argument, default SIGUSR1 map printing removed.
  {
    from: [0, 22],
    traits: { infoStream: "stderr", attachSignal: "stdout-attaching", dryRun: "dry-run-flag", mapSnapshotSignal: null, snapshotProbe: true, listStructs: true, knownGood: true },
  },
  // 0.23: informational output of flags (--info, --help) moved to stdout.
  {
    from: [0, 23],
    traits: { infoStream: "stdout", attachSignal: "stdout-attaching", dryRun: "dry-run-flag", mapSnapshotSignal: null, snapshotProbe: true, listStructs: true, knownGood: true },
  },
  // 0.24: "Attaching N probes..." became "Attached N probes" on stderr.
  {
    from: [0, 24],
    traits: { infoStream: "stdout", attachSignal: "stderr-attached", dryRun: "dry-run-flag", mapSnapshotSignal: null, snapshotProbe: true, listStructs: true, knownGood: true },
  },
];

// Unknown version: behave like 0.17, the release we verified, rather than guess the newest.
// Both guesses fail safe for dry runs (`-d` and `--dry-run` each error out on the wrong release
// rather than attach), callers should accept either attach line anyway (parseAttachLine does),
// and --info is read from stdout+stderr. The one trait that could do harm is overridden:
// SIGUSR1 is not sent, because on a release without the handler it would end the trace.
const UNKNOWN_VERSION_TRAITS: VersionTraits = {
  ...BEFORE_KNOWN_GOOD,
  listStructs: true,
  mapSnapshotSignal: null,
  knownGood: false,
};

function hasReached(version: BpftraceVersion, [major, minor]: readonly [number, number]): boolean {
  return version.major > major || (version.major === major && version.minor >= minor);
}

/** Looks up how this bpftrace release behaves; null (unknown) gets 0.17's behaviour minus SIGUSR1. */
export function versionTraits(version: BpftraceVersion | null): VersionTraits {
  if (version === null) return { ...UNKNOWN_VERSION_TRAITS };
  const row = TRAITS_BY_RELEASE.findLast((candidate) => hasReached(version, candidate.from));
  return { ...(row?.traits ?? BEFORE_KNOWN_GOOD) };
}

const ATTACH_LINE = /^\s*Attach(?:ing|ed)\s+(\d+)\s+probes?\b/;

/** Probe count from "Attaching 3 probes..." (before 0.24) or "Attached 3 probes" (0.24+); else null. */
export function parseAttachLine(line: string): number | null {
  const match = ATTACH_LINE.exec(line);
  if (!match?.[1]) return null;
  const count = Number(match[1]);
  return Number.isSafeInteger(count) ? count : null;
}
