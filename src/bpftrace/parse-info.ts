/** One titled block of `bpftrace --info`, e.g. "Kernel helpers". */
export interface InfoSection {
  name: string;
  /** Entries in output order; the first of duplicate keys wins. */
  entries: Record<string, string>;
}

/** `bpftrace --info`, parsed into sections plus the values callers ask for most. */
export interface ParsedInfo {
  /** In output order, e.g. "System", "Build", "Kernel helpers", "Kernel features", "Map types", "Probe types". */
  sections: InfoSection[];
  /** Build/version without the leading "v", e.g. "0.17.0". */
  version: string | null;
  /** The System "OS" value. */
  kernel: string | null;
  arch: string | null;
  /** "Kernel helpers" entries whose value is yes/no; null when the section was not printed. */
  helpers: Record<string, boolean> | null;
  /** "Kernel features" raw values ("yes", "no", "1000000"); null when the section was not printed. */
  features: Record<string, string> | null;
  /** "Map types"; null when not printed (0.24+ print none: unknown, not "none supported"). */
  mapTypes: Record<string, boolean> | null;
  probeTypes: Record<string, boolean> | null;
  /** Capability sections this output did not print, in CAPABILITY_SECTIONS order. */
  notReported: CapabilitySection[];
}

/** The sections whose absence means "not reported by this bpftrace", never "nothing supported". */
export const CAPABILITY_SECTIONS = ["Kernel helpers", "Kernel features", "Map types", "Probe types"] as const;
export type CapabilitySection = (typeof CAPABILITY_SECTIONS)[number];

// Diagnostics bpftrace (or the C++ runtime) mixes into the same streams; never part of the report.
const DIAGNOSTIC_LINE = /^\s*(?:ERROR|WARNING|FATAL|Error|Warning)\b/;
// Section titles are short, unindented words: "System", "Kernel helpers", "Probe types".
const SECTION_TITLE = /^[A-Z][A-Za-z0-9 _()/-]{0,47}$/;
// Where the next "key: value" pair of a multi-pair line (0.22+) starts: after a run of two or more
// spaces, or after one space when the previous value is a single yes/no/number token.
// Keys may hold spaces, parentheses and colons not followed by a space ("Build:bcc").
const NEXT_PAIR = /(?:\s{2,}|(?<=^(?:yes|no|-?\d+))\s+)(?=[A-Za-z_][\w .()/:+-]*?:(?:\s|$))/;
// 0.22's fixed-width columns glue pairs together when the first fills its column: "yesget_tai_ns: yes".
const GLUED_PAIR = /^(yes|no)(?=[A-Za-z_][\w .()/:+-]*?:(?:\s|$))/;

interface KeyValue {
  key: string;
  value: string;
}

function findKeySeparator(text: string): number {
  const spaced = text.indexOf(": ");
  if (spaced >= 0) return spaced;
  return text.endsWith(":") ? text.length - 1 : -1;
}

/** Splits an entry line into its pairs: "probe_read: yes      probe_read_str: yes" holds two. */
function splitPairs(body: string): KeyValue[] {
  const pairs: KeyValue[] = [];
  let rest = body.trim();
  while (rest.length > 0) {
    const separator = findKeySeparator(rest);
    if (separator <= 0) break;
    const key = rest.slice(0, separator).trim();
    const afterKey = rest.slice(separator + 1).trim();
    const glued = GLUED_PAIR.exec(afterKey);
    const next = glued ? { index: glued[0].length } : NEXT_PAIR.exec(afterKey);
    const valueEnd = next ? next.index : afterKey.length;
    pairs.push({ key, value: afterKey.slice(0, valueEnd).trim() });
    rest = afterKey.slice(valueEnd).trim();
  }
  return pairs;
}

function isSectionTitle(line: string): boolean {
  return !/^\s/.test(line) && findKeySeparator(line) < 0 && SECTION_TITLE.test(line.trim());
}

function toYesNo(value: string): boolean | undefined {
  if (/^yes\b/i.test(value)) return true;
  if (/^no\b/i.test(value)) return false;
  return undefined;
}

function findSection(sections: readonly InfoSection[], name: string): InfoSection | undefined {
  const wanted = name.toLowerCase();
  return sections.find((section) => section.name.toLowerCase() === wanted);
}

function findEntry(sections: readonly InfoSection[], sectionName: string, key: string): string | null {
  const section = findSection(sections, sectionName);
  if (!section) return null;
  const wanted = key.toLowerCase();
  const found = Object.entries(section.entries).find(([entryKey]) => entryKey.toLowerCase() === wanted);
  return found ? found[1] : null;
}

function yesNoEntries(section: InfoSection | undefined): Record<string, boolean> | null {
  if (!section) return null;
  const flags = new Map<string, boolean>();
  for (const [key, value] of Object.entries(section.entries)) {
    const flag = toYesNo(value);
    if (flag !== undefined) flags.set(key, flag);
  }
  return Object.fromEntries(flags);
}

/** Splits the text into sections; entries are gathered in Maps so keys like "__proto__" stay data. */
function readSections(text: string): InfoSection[] {
  const gathered: { name: string; entries: Map<string, string> }[] = [];
  let current: { name: string; entries: Map<string, string> } | undefined;
  for (const rawLine of text.split(/\r?\n|\r/)) {
    const line = rawLine.trimEnd();
    if (line.trim() === "" || DIAGNOSTIC_LINE.test(line)) continue;
    if (isSectionTitle(line)) {
      current = { name: line.trim(), entries: new Map() };
      gathered.push(current);
      continue;
    }
    // Entries are indented; unindented lines with a value are stray messages (e.g. libbpf's).
    if (!current || !/^\s/.test(line)) continue;
    for (const { key, value } of splitPairs(line)) {
      if (!current.entries.has(key)) current.entries.set(key, value);
    }
  }
  // A title without entries was not a section but an unrelated line ("Segmentation fault").
  return gathered
    .filter((section) => section.entries.size > 0)
    .map((section) => ({ name: section.name, entries: Object.fromEntries(section.entries) }));
}

/** Parses `bpftrace --info` (stdout and stderr concatenated, any version, noise tolerated). */
export function parseInfo(text: string): ParsedInfo {
  const sections = readSections(text);
  const version = findEntry(sections, "Build", "version");
  const features = findSection(sections, "Kernel features");
  return {
    sections,
    version: version ? version.replace(/^v(?=\d)/, "") : null,
    kernel: findEntry(sections, "System", "OS"),
    arch: findEntry(sections, "System", "Arch"),
    helpers: yesNoEntries(findSection(sections, "Kernel helpers")),
    features: features ? { ...features.entries } : null,
    mapTypes: yesNoEntries(findSection(sections, "Map types")),
    probeTypes: yesNoEntries(findSection(sections, "Probe types")),
    notReported: CAPABILITY_SECTIONS.filter((name) => findSection(sections, name) === undefined),
  };
}
