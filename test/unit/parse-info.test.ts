import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, it, expect } from "vitest";
import { parseInfo } from "../../src/bpftrace/parse-info.js";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { createServer } from "../../src/server.js";
import { connectInMemory } from "../helpers/in-memory-client.js";
import { expectationsFor, FIXTURE_VERSIONS, readFixture } from "../fixtures/bpftrace-output/fixtures.js";

describe.each(FIXTURE_VERSIONS)("parseInfo on the recorded %s --info", (version) => {
  const expected = expectationsFor(version).info;
  const info = parseInfo(readFixture(version, "info.txt"));

  it("finds every section in output order", () => {
    expect(info.sections.map((section) => section.name)).toEqual(expected.sections);
  });

  it("reads version, kernel and arch, and every Build entry (keys with parentheses kept)", () => {
    expect({ version: info.version, kernel: info.kernel, arch: info.arch }).toEqual({ version: expected.version, kernel: expected.kernel, arch: expected.arch });
    expect(info.sections.find((section) => section.name === "Build")?.entries).toEqual(expected.build);
  });

  it("reads every helper, feature, map type and probe type, however the pairs are laid out", () => {
    expect(info.helpers).toEqual(expected.helpers);
    expect(info.features).toEqual(expected.features);
    expect(info.mapTypes).toEqual(expected.mapTypes);
    expect(info.probeTypes).toEqual(expected.probeTypes);
  });

  it("names the capability sections this release does not print instead of reporting them empty", () => {
    expect(info.notReported).toEqual(expected.notReported);
  });

  it("agrees with the version.txt of the same folder", () => {
    expect(info.version).toBe(expectationsFor(version).version.text);
  });
});

describe("parseInfo on a release that prints fewer sections", () => {
  it("reports 0.27's missing Map types as not reported (null), not as an empty set of map types", () => {
    const info = parseInfo(readFixture("0.27.1", "info.txt"));
    expect(info.mapTypes).toBeNull();
    expect(info.notReported).toEqual(["Map types"]);
    // What it does print is read in full.
    expect(Object.keys(info.helpers ?? {})).toEqual(["dpath", "get_tai_ns", "get_func_ip", "lookup_percpu_elem", "loop"]);
    expect(info.probeTypes).toMatchObject({ uprobe_multi: true, kprobe_multi: false });
  });

  it("reports a section that is printed but empty of yes/no values as present", () => {
    const info = parseInfo("Build\n  version: v0.27.1\nMap types\n  hash: maybe\n");
    expect(info.mapTypes).toEqual({});
    expect(info.notReported).toEqual(["Kernel helpers", "Kernel features", "Probe types"]);
  });
});

describe("parseInfo on damaged or unusual input", () => {
  it("returns no sections and null values for empty input", () => {
    expect(parseInfo("")).toEqual({
      sections: [],
      version: null,
      kernel: null,
      arch: null,
      helpers: null,
      features: null,
      mapTypes: null,
      probeTypes: null,
      notReported: ["Kernel helpers", "Kernel features", "Map types", "Probe types"],
    });
  });

  it("finds nothing in text that is not --info output", () => {
    const info = parseInfo("Segmentation fault\nbash: bpftrace: command not found\n{\"json\": true}\n@map: 3\n");
    expect(info.sections).toEqual([]);
    expect(info.version).toBeNull();
  });

  it.each(FIXTURE_VERSIONS)("reads CRLF line endings like LF in the %s output", (version) => {
    const text = readFixture(version, "info.txt");
    expect(parseInfo(text.replace(/\n/g, "\r\n"))).toEqual(parseInfo(text));
  });

  it("ignores ERROR and WARNING lines interleaved anywhere", () => {
    const rlimit =
      'ERROR: Unknown error -1: couldn\'t set RLIMIT_MEMLOCK for bpftrace. If your program is not loading, you can try "ulimit -l 8192" to fix the problem';
    const clean = readFixture("0.17.0", "info.txt");
    const lines = clean.split("\n");
    lines.splice(14, 0, rlimit, "WARNING: Could not read symbols: Operation not permitted");
    const noisy = [rlimit, ...lines, "  WARNING: indented warning: still noise"].join("\n");
    expect(parseInfo(noisy)).toEqual(parseInfo(clean));
  });

  it("ignores the glued stderr line 0.17 prints when two messages share a line", () => {
    const glued =
      "Error while reading traceable functions from /sys/kernel/tracing/available_filter_functions: Operation not permittedERROR: Unknown error -1: couldn't set RLIMIT_MEMLOCK for bpftrace.";
    const info = parseInfo(`${glued}\nBuild\n  version: v0.17.0\n`);
    expect(info.sections).toEqual([{ name: "Build", entries: { version: "v0.17.0" } }]);
  });

  it("keeps commas, colons and hashes inside the OS value", () => {
    const info = parseInfo("System\n  OS: Linux 6.8.0 #1 SMP PREEMPT_DYNAMIC Mon, 1 Jan 2024 12:00:00 UTC\n  Arch: x86_64\n");
    expect(info.kernel).toBe("Linux 6.8.0 #1 SMP PREEMPT_DYNAMIC Mon, 1 Jan 2024 12:00:00 UTC");
    expect(info.arch).toBe("x86_64");
  });

  it("splits two pairs separated by one space after a yes/no/number value", () => {
    const info = parseInfo("Kernel features\n  Instruction limit: 1000000 module btf: yes\n  btf: no map batch: yes\n");
    expect(info.features).toEqual({ "Instruction limit": "1000000", "module btf": "yes", btf: "no", "map batch": "yes" });
  });

  it("splits after a free-text value only at a run of spaces", () => {
    const info = parseInfo("Kernel features\n  dpath: untested (missing btf)    map batch: yes\n  note: see host: 5\n");
    expect(info.features).toEqual({ dpath: "untested (missing btf)", "map batch": "yes", note: "see host: 5" });
  });

  it("splits pairs glued together when the first fills its column", () => {
    const info = parseInfo("Kernel helpers\n  a_very_long_helper_name_here: yesget_tai_ns: no\n");
    expect(info.helpers).toEqual({ a_very_long_helper_name_here: true, get_tai_ns: false });
  });

  it("keeps keys holding colons such as iter:task and Build:bcc", () => {
    const info = parseInfo(
      "Probe types\n  iter:task: no      iter:task_file: yes\nKernel features\n  uprobe refcount (depends on Build:bcc bpf_attach_uprobe refcount): yes\n",
    );
    expect(info.probeTypes).toEqual({ "iter:task": false, "iter:task_file": true });
    expect(Object.keys(info.features ?? {})).toEqual(["uprobe refcount (depends on Build:bcc bpf_attach_uprobe refcount)"]);
  });

  it("records an empty value for a key printed with nothing after its colon", () => {
    const info = parseInfo("System\n  OS:\n  Arch: x86_64   \n");
    expect(info.kernel).toBe("");
    expect(info.arch).toBe("x86_64");
  });

  it("leaves out yes/no maps values that are neither yes nor no", () => {
    const info = parseInfo("Kernel helpers\n  probe_read: yes\n  dpath: untested (missing btf)\n");
    expect(info.helpers).toEqual({ probe_read: true });
    expect(info.sections[0]?.entries.dpath).toBe("untested (missing btf)");
  });

  it("keeps the first of duplicate keys and treats __proto__ as data", () => {
    const info = parseInfo("Kernel helpers\n  get_func_ip: yes    get_func_ip: no\n  __proto__: yes\n");
    expect(info.helpers?.get_func_ip).toBe(true);
    expect(Object.keys(info.helpers ?? {})).toEqual(["get_func_ip", "__proto__"]);
    expect(Object.getPrototypeOf(info.helpers)).toBe(Object.prototype);
  });

  it("drops a title-like stray line that has no entries under it", () => {
    const info = parseInfo("Segmentation fault\nSystem\n  Arch: x86_64\nAborted\n");
    expect(info.sections.map((section) => section.name)).toEqual(["System"]);
  });

  it("reads a version that has a git suffix and no leading v", () => {
    expect(parseInfo("Build\n  version: v0.24.1-12-gabcdef\n").version).toBe("0.24.1-12-gabcdef");
    expect(parseInfo("Build\n  version: 0.21.2\n").version).toBe("0.21.2");
  });
});

describe("bpf_info on 0.27.1's --info, which prints no Map types", () => {
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const close of closers.splice(0)) await close();
  });

  it("says the section was not reported instead of answering an empty set of map types", async () => {
    // A stand-in that prints the recorded 0.27.1 outputs; the host is told it runs as root.
    const directory = mkdtempSync(join(tmpdir(), "bpftrace-0.27.1-"));
    const fake = join(directory, "bpftrace");
    const fixture = (file: string): string => fileURLToPath(new URL(`../fixtures/bpftrace-output/0.27.1/${file}`, import.meta.url));
    writeFileSync(fake, `#!/bin/sh\ncase "$1" in\n  --version) cat '${fixture("version.txt")}' ;;\n  --info) cat '${fixture("info.txt")}' ;;\n  *) echo 'ERROR: not recorded' >&2; exit 1 ;;\nesac\n`);
    chmodSync(fake, 0o755);
    closers.push(async () => rmSync(directory, { recursive: true, force: true }));
    const config = loadConfig({ BPFTRACE_PATH: fake, BPFTRACE_MCP_AUDIT_LOG: "off" });
    const { server, cleanup } = createServer({ config, logger: createLogger("silent"), hostOptions: { geteuid: () => 0 } });
    closers.push(() => cleanup(100));
    const client = await connectInMemory(server);
    closers.push(() => client.close());

    const result = (await client.callTool({ name: "bpf_info", arguments: {} })) as CallToolResult;
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    const info = result.structuredContent as Record<string, unknown>;
    expect(info).toMatchObject({ bpftrace_version: "0.27.1", map_types: null, not_reported: ["Map types"] });
    expect(info.helpers).toEqual({ dpath: false, get_tai_ns: true, get_func_ip: true, lookup_percpu_elem: true, loop: true });
    const text = result.content[0]?.type === "text" ? result.content[0].text : "";
    expect(text).toContain("Not reported by this bpftrace (unknown, not unsupported): Map types.");
  });
});
