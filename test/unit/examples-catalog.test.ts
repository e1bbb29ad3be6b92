import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

import {
  EXAMPLE_TRIGGERS,
  allTags,
  examplesMarkdownTable,
  loadExamples,
  parseExampleHeader,
  programWithThreshold,
  searchExamples,
  stemOf,
  type Example,
} from "../../src/examples/catalog.js";
import { checkProgram, formatRefusal, type AllowFlag } from "../../src/policy/index.js";

const examples = loadExamples();
const byName = new Map(examples.map((example) => [example.name, example]));
const README = new URL("../../README.md", import.meta.url);
const TABLE_START = "<!-- examples:start -->";
const TABLE_END = "<!-- examples:end -->";

/** The program text after the header, i.e. what bpftrace actually parses besides comments. */
function body(example: Example): string {
  const lines = example.program.split("\n");
  const firstCode = lines.findIndex((line) => !line.startsWith("//"));
  return lines.slice(firstCode).join("\n");
}

/** Code lines with comments removed, for checks that must not be fooled by prose. */
function codeWithoutComments(example: Example): string {
  return body(example)
    .split("\n")
    .map((line) => line.replace(/\/\/.*$/, ""))
    .join("\n");
}

const VALID_HEADER = [
  "// title: A title",
  "// question: What happens?",
  "// probes: tracepoint:syscalls:sys_enter_openat",
  "// output: Lines.",
  "// requires: Linux 4.17+, bpftrace 0.17+",
  "// tags: files",
  "// trigger: open-file",
  "// marker: bpftrace-mcp-marker",
  "",
  "tracepoint:syscalls:sys_enter_openat { @opens = count(); }",
  "",
].join("\n");

describe("the curated example library", () => {
  it("has at least 32 examples, sorted by name", () => {
    expect(examples.length).toBeGreaterThanOrEqual(32);
    const names = examples.map((example) => example.name);
    expect(names).toEqual([...names].sort());
  });

  it("uses unique kebab-case names", () => {
    const names = examples.map((example) => example.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
  });

  it("gives every example a title, question, output, requirements, probes and tags", () => {
    for (const example of examples) {
      expect(example.title, example.name).not.toBe("");
      expect(example.question, example.name).toMatch(/\?$/);
      expect(example.output, example.name).not.toBe("");
      expect(example.requires, example.name).toMatch(/bpftrace 0\.17\+/);
      expect(example.tags.length, example.name).toBeGreaterThan(0);
      expect(example.probes.length, example.name).toBeGreaterThan(0);
    }
  });

  it("writes every header probe, exactly as listed, in the program body", () => {
    for (const example of examples) {
      const code = codeWithoutComments(example);
      for (const probe of example.probes) expect(code, `${example.name}: ${probe}`).toContain(probe);
    }
  });

  it("lists every probe the program attaches in its header", () => {
    // Whether a uprobe's library is readable is checked on the machine that runs it (the real suite does).
    const options = { allow: new Set<AllowFlag>(), maxBytes: 64 * 1024, maxLines: 2000, canRead: () => true };
    for (const example of examples) {
      const attached = new Set(checkProgram(example.program, options).probes.filter((probe) => probe !== "BEGIN" && probe !== "END"));
      expect([...attached].sort(), example.name).toEqual([...new Set(example.probes)].sort());
    }
  });

  it("passes the server's program policy unchanged", () => {
    // Whether a uprobe's library is readable is checked on the machine that runs it (the real suite does).
    const options = { allow: new Set<AllowFlag>(), maxBytes: 64 * 1024, maxLines: 2000, canRead: () => true };
    for (const example of examples) {
      const decision = checkProgram(example.program, options);
      expect(decision.allowed, `${example.name}:\n${formatRefusal(decision)}`).toBe(true);
    }
  });

  it("never ends the trace on its own: the caller's deadline does", () => {
    for (const example of examples) expect(codeWithoutComments(example), example.name).not.toMatch(/\bexit\s*\(/);
  });

  it("gives a compiling marker to every example with a trigger, and none without", () => {
    for (const example of examples) {
      expect(EXAMPLE_TRIGGERS, example.name).toContain(example.trigger);
      if (example.trigger === "none") {
        expect(example.marker, example.name).toBeNull();
      } else {
        expect(example.marker, example.name).not.toBeNull();
        expect(() => new RegExp(example.marker ?? ""), example.name).not.toThrow();
      }
    }
  });

  it("covers the investigations the server advertises", () => {
    for (const name of [
      "file-opens",
      "process-exec",
      "syscall-counts",
      "syscall-latency",
      "slow-file-io",
      "block-io-latency",
      "block-io-sizes",
      "runqueue-latency",
      "context-switches",
      "cpu-profile",
      "page-faults",
      "mmap-calls",
      "oom-kills",
      "signals-sent",
      "signals-received",
      "tcp-connects",
      "tcp-accepts",
      "tcp-retransmits",
      "tcp-resets",
      "dns-lookups",
      "process-lifetime",
      "file-deletions",
      "mount-events",
      "setuid-calls",
      "capability-checks",
      "thread-creation",
      "sleeps",
      "tls-traffic",
    ]) {
      expect(byName.has(name), name).toBe(true);
    }
  });
});

describe("parseExampleHeader", () => {
  it("reads every key, splitting probes and tags on commas", () => {
    const header = parseExampleHeader(
      "two-probes",
      VALID_HEADER.replace("// probes: tracepoint:syscalls:sys_enter_openat", "// probes: tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_exit_openat").replace(
        "// tags: files",
        "// tags: files, errors",
      ),
    );
    expect(header).toEqual({
      title: "A title",
      question: "What happens?",
      probes: ["tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_exit_openat"],
      output: "Lines.",
      requires: "Linux 4.17+, bpftrace 0.17+",
      tags: ["files", "errors"],
      trigger: "open-file",
      marker: "bpftrace-mcp-marker",
      params: { pid: false, comm: false, threshold: null },
      syscallKeys: [],
    });
  });

  it("reads the parameters an example takes and the map keys that hold syscall numbers", () => {
    const text = VALID_HEADER.replace("// tags: files\n", "// tags: files\n// params: pid, comm, threshold_ms=20\n// syscalls: @by_call[2], @[0]\n").replace(
      "tracepoint:syscalls:sys_enter_openat { @opens = count(); }",
      "tracepoint:syscalls:sys_enter_openat {\n  $threshold_ms = 20; // param: threshold_ms\n  @opens = count();\n}",
    );
    expect(parseExampleHeader("with-params", text)).toMatchObject({
      params: { pid: true, comm: true, threshold: { name: "threshold_ms", unit: "ms", default: 20 } },
      syscallKeys: [{ map: "@by_call", index: 2 }, { map: "@", index: 0 }],
    });
    expect(() => parseExampleHeader("bad-param", VALID_HEADER.replace("// tags: files\n", "// tags: files\n// params: uid\n"))).toThrow(/"bad-param": invalid header key "params": "uid"/);
    expect(() => parseExampleHeader("unset-threshold", VALID_HEADER.replace("// tags: files\n", "// tags: files\n// params: threshold_ms=5\n"))).toThrow(/no line ends with "\/\/ param: threshold_ms"/);
    expect(() => parseExampleHeader("bad-syscalls", VALID_HEADER.replace("// tags: files\n", "// tags: files\n// syscalls: @x\n"))).toThrow(/invalid header key "syscalls"/);
  });

  it("defaults an absent trigger to none with no marker", () => {
    const text = VALID_HEADER.replace("// trigger: open-file\n", "").replace("// marker: bpftrace-mcp-marker\n", "");
    expect(parseExampleHeader("quiet", text)).toMatchObject({ trigger: "none", marker: null });
  });

  it("rejects a missing key, naming the file and the key", () => {
    const text = VALID_HEADER.replace("// tags: files\n", "");
    expect(() => parseExampleHeader("no-tags", text)).toThrow('Example "no-tags": missing header key "tags"');
  });

  it("rejects an unknown trigger, a trigger without a marker and a bad marker", () => {
    expect(() => parseExampleHeader("bad-trigger", VALID_HEADER.replace("trigger: open-file", "trigger: reboot"))).toThrow(/"bad-trigger".*"trigger".*reboot/);
    expect(() => parseExampleHeader("no-marker", VALID_HEADER.replace("// marker: bpftrace-mcp-marker\n", ""))).toThrow(/"no-marker": missing header key "marker"/);
    expect(() => parseExampleHeader("bad-marker", VALID_HEADER.replace("marker: bpftrace-mcp-marker", "marker: (unclosed"))).toThrow(/"bad-marker": invalid header key "marker"/);
  });

  it("rejects unknown, duplicate and empty keys, and a header not followed by a blank line", () => {
    expect(() => parseExampleHeader("typo", VALID_HEADER.replace("// title:", "// titel:"))).toThrow(/"typo": unknown header key "titel"/);
    expect(() => parseExampleHeader("twice", `// title: Again\n${VALID_HEADER}`)).toThrow(/"twice": duplicate header key "title"/);
    expect(() => parseExampleHeader("empty", VALID_HEADER.replace("// output: Lines.", "// output: "))).toThrow(/"empty": header key "output" is empty/);
    expect(() => parseExampleHeader("cramped", VALID_HEADER.replace("bpftrace-mcp-marker\n\n", "bpftrace-mcp-marker\n"))).toThrow(/"cramped": the header must be followed by a blank line/);
  });

  it("rejects tags that are not kebab-case", () => {
    expect(() => parseExampleHeader("shouty", VALID_HEADER.replace("// tags: files", "// tags: Files"))).toThrow(/"shouty": invalid tag "Files"/);
  });
});

describe("searchExamples", () => {
  const names = (found: Example[]) => found.map((example) => example.name);

  it("returns every example for an empty filter", () => {
    expect(searchExamples(examples, {})).toHaveLength(examples.length);
    expect(searchExamples(examples, { query: "   " })).toHaveLength(examples.length);
  });

  it("matches any query word, case-insensitively, ranking examples that match more of them first", () => {
    expect(names(searchExamples(examples, { query: "DNS getaddrinfo" }))[0]).toBe("dns-lookups");
    expect(names(searchExamples(examples, { query: "block latency" }))[0]).toBe("block-io-latency");
    expect(names(searchExamples(examples, { query: "getaddrinfo kstack" }))).toContain("dns-lookups");
    expect(searchExamples(examples, { query: "zebra quokka" })).toEqual([]);
  });

  it("answers questions as a user words them: filler words dropped, simple stems, synonyms", () => {
    const first = (query: string): string | undefined => names(searchExamples(examples, { query }))[0];
    expect(first("who spawns short-lived processes")).toBe("process-spawners");
    expect(first("which process keeps failing to open a missing file")).toBe("open-errors");
    expect(first("who is calling fsync so often")).toBe("fsync-latency");
    expect(first("which process has failing system calls")).toBe("syscall-errors");
    expect(first("which host names are being resolved")).toBe("dns-lookups");
    expect(first("what is burning the CPU")).toBe("cpu-profile");
    expect(stemOf("spawning")).toBe(stemOf("spawns"));
    expect(stemOf("processes")).toBe(stemOf("process"));
    expect(stemOf("files")).toBe(stemOf("file"));
  });

  it("matches probes as well as words", () => {
    expect(names(searchExamples(examples, { query: "tcp_retransmit_skb" }))).toEqual(["tcp-retransmits"]);
    expect(names(searchExamples(examples, { query: "sched_wakeup" }))).toEqual(["runqueue-latency"]);
  });

  it("ranks title and name hits before examples that only mention the word elsewhere", () => {
    const found = searchExamples(examples, { query: "signal" });
    const inTitle = (example: Example) => `${example.name} ${example.title}`.toLowerCase().includes("signal");
    const firstElsewhere = found.findIndex((example) => !inTitle(example));
    expect(names(found.slice(0, firstElsewhere))).toEqual(["exit-codes", "signals-received", "signals-sent"]);
    expect(names(found.slice(firstElsewhere))).toContain("kill-calls");
    expect(found.slice(firstElsewhere).some(inTitle)).toBe(false);
  });

  it("filters by exact tag, alone or with a query", () => {
    const tcp = searchExamples(examples, { tag: "tcp" });
    expect(tcp.length).toBeGreaterThanOrEqual(5);
    for (const example of tcp) expect(example.tags).toContain("tcp");
    expect(names(searchExamples(examples, { tag: "tcp", query: "reset" }))).toEqual(["tcp-resets"]);
    expect(searchExamples(examples, { tag: "tc" })).toEqual([]);
  });
});

describe("programWithThreshold", () => {
  it("sets every line of the example's threshold, and refuses a threshold it does not take or a bad number", () => {
    const fsync = byName.get("fsync-latency");
    if (!fsync) throw new Error("fsync-latency is missing");
    const program = programWithThreshold(fsync, 250);
    expect(program.match(/\$threshold_ms = 250; \/\/ param: threshold_ms/g)).toHaveLength(2);
    expect(program).not.toContain("$threshold_ms = 20;");
    expect(checkProgram(program, { allow: new Set(), maxBytes: 65536, maxLines: 2000, canRead: () => true }).allowed).toBe(true);
    expect(() => programWithThreshold(fsync, -1)).toThrow(/0 or more/);
    expect(() => programWithThreshold(fsync, 1.5)).toThrow(/whole number/);
    const opens = byName.get("open-errors");
    if (!opens) throw new Error("open-errors is missing");
    expect(() => programWithThreshold(opens, 5)).toThrow(/takes no threshold/);
  });
});

describe("allTags", () => {
  it("lists each tag once, sorted", () => {
    const tags = allTags(examples);
    expect(tags).toEqual([...new Set(tags)].sort());
    expect(tags).toEqual(expect.arrayContaining(["files", "network", "tcp", "disk", "scheduler", "security", "memory", "processes"]));
  });
});

describe("examplesMarkdownTable", () => {
  it("has a header row and one row per example, with probes in code spans", () => {
    const table = examplesMarkdownTable(examples);
    const rows = table.trimEnd().split("\n");
    expect(rows[0]).toBe("| Name | Question | Probes | Tags |");
    expect(rows).toHaveLength(examples.length + 2);
    expect(table).toContain("| `file-opens` | Which processes open which files, and which opens fail? | `tracepoint:syscalls:sys_enter_openat`<br>`tracepoint:syscalls:sys_exit_openat` |");
  });

  const readme = existsSync(README) ? readFileSync(README, "utf8") : "";
  const hasMarkers = readme.includes(TABLE_START) && readme.includes(TABLE_END);

  it.runIf(hasMarkers)("matches the table in README.md (regenerate: npm run build && node scripts/examples-table.mjs --write README.md)", () => {
    const section = readme.slice(readme.indexOf(TABLE_START) + TABLE_START.length, readme.indexOf(TABLE_END));
    expect(section.trim()).toBe(examplesMarkdownTable(examples).trim());
  });
});
