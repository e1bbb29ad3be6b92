import { readFileSync } from "node:fs";
import { describe, it, expect } from "vitest";
import { parseInfo } from "../../src/bpftrace/parse-info.js";

function readFixture(version: string, file: string): string {
  return readFileSync(new URL(`../fixtures/bpftrace-output/${version}/${file}`, import.meta.url), "utf8");
}

describe("parseInfo on recorded output", () => {
  it("reads every section of the real 0.17 output printed on stderr", () => {
    const info = parseInfo(readFixture("0.17.0", "info.txt"));
    expect(info.sections.map((section) => section.name)).toEqual([
      "System",
      "Build",
      "Kernel helpers",
      "Kernel features",
      "Map types",
      "Probe types",
    ]);
    expect(info.version).toBe("0.17.0");
    expect(info.kernel).toBe("Linux 6.18.44-fc-v595 #1 SMP PREEMPT_DYNAMIC @0");
    expect(info.arch).toBe("x86_64");
    expect(Object.keys(info.helpers)).toHaveLength(12);
    expect(info.helpers).toMatchObject({ probe_read: true, override_return: true, dpath: false, skboutput: false });
    expect(info.features).toEqual({
      "Instruction limit": "1000000",
      "Loop support": "yes",
      btf: "yes",
      "map batch": "yes",
      "uprobe refcount (depends on Build:bcc bpf_attach_uprobe refcount)": "yes",
    });
    expect(Object.keys(info.mapTypes)).toHaveLength(6);
    expect(info.probeTypes).toEqual({
      kprobe: true,
      tracepoint: true,
      perf_event: true,
      kfunc: false,
      "iter:task": false,
      "iter:task_file": false,
      kprobe_multi: false,
      raw_tp_special: true,
    });
  });

  it("keeps Build keys that hold parentheses in the real 0.17 output", () => {
    const build = parseInfo(readFixture("0.17.0", "info.txt")).sections[1];
    expect(build?.entries).toEqual({
      version: "v0.17.0",
      LLVM: "14.0.6",
      "unsafe uprobe": "no",
      bfd: "no",
      "libdw (DWARF support)": "yes",
    });
  });

  it("reads 0.20 output with one pair per line and a kernel version holding a double space", () => {
    const info = parseInfo(readFixture("0.20.4", "info.txt"));
    expect(info.version).toBe("0.20.4");
    expect(info.kernel).toBe("Linux 6.5.0-35-generic #35~22.04.1-Ubuntu SMP PREEMPT_DYNAMIC Tue May  7 09:00:52 UTC 2");
    expect(Object.keys(info.helpers)).toHaveLength(16);
    expect(info.helpers.for_each_map_elem).toBe(true);
    expect(info.features["module btf"]).toBe("yes");
    expect(info.mapTypes.ringbuf).toBe(true);
    expect(info.probeTypes).toMatchObject({ kfunc: true, uprobe_multi: false, iter: true });
  });

  it("splits 0.24's two pairs per line, padded to columns with trailing spaces", () => {
    const info = parseInfo(readFixture("0.24.1", "info.txt"));
    expect(info.sections.map((section) => section.name)).toEqual([
      "System",
      "Build",
      "Kernel helpers",
      "Kernel features",
      "Probe types",
    ]);
    expect(info.version).toBe("0.24.1");
    expect(info.arch).toBe("aarch64");
    expect(info.helpers).toEqual({ dpath: true, get_tai_ns: true, get_func_ip: true, lookup_percpu_elem: true });
    expect(info.features).toEqual({ "Instruction limit": "1000000", "module btf": "yes", "map batch": "yes" });
    expect(info.probeTypes).toEqual({ kprobe_multi: true, uprobe_multi: true, kprobe_session: false, iter: true });
    expect(info.mapTypes).toEqual({});
    expect(info.sections[1]?.entries["blazesym (advanced symbolization)"]).toBe("yes");
  });
});

describe("parseInfo on damaged or unusual input", () => {
  it("returns no sections and null values for empty input", () => {
    expect(parseInfo("")).toEqual({
      sections: [],
      version: null,
      kernel: null,
      arch: null,
      helpers: {},
      features: {},
      mapTypes: {},
      probeTypes: {},
    });
  });

  it("finds nothing in text that is not --info output", () => {
    const info = parseInfo("Segmentation fault\nbash: bpftrace: command not found\n{\"json\": true}\n@map: 3\n");
    expect(info.sections).toEqual([]);
    expect(info.version).toBeNull();
  });

  it("reads CRLF line endings like LF", () => {
    const text = readFixture("0.17.0", "info.txt");
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
    expect(Object.keys(info.features)).toEqual(["uprobe refcount (depends on Build:bcc bpf_attach_uprobe refcount)"]);
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
    expect(info.helpers.get_func_ip).toBe(true);
    expect(Object.keys(info.helpers)).toEqual(["get_func_ip", "__proto__"]);
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
