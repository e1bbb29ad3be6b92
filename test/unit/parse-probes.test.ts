import { describe, it, expect } from "vitest";
import {
  matchProbes,
  parseProbeDetails,
  parseProbeList,
  parseStructLayout,
  probeGlobToRegExp,
  probeType,
} from "../../src/bpftrace/parse-probes.js";
import { expectationsFor, FIXTURE_VERSIONS, readFixture } from "../fixtures/bpftrace-output/fixtures.js";

describe.each(FIXTURE_VERSIONS)("the probe parsers on the recorded %s output", (version) => {
  const expected = expectationsFor(version);

  it("lists every probe of -l, per type, without the WARNING lines mixed into them", () => {
    const probes = parseProbeList(readFixture(version, "list.txt"));
    expect(probes).toHaveLength(expected.list.count);
    const countByType: Record<string, number> = {};
    for (const probe of probes) countByType[probeType(probe)] = (countByType[probeType(probe)] ?? 0) + 1;
    expect(countByType).toEqual(expected.list.countByType);
    for (const probe of expected.list.contains) expect(probes).toContain(probe);
    expect(probes.filter((probe) => /WARNING|ERROR/.test(probe))).toEqual([]);
  });

  it("reads every probe of -lv with its arguments", () => {
    const details = parseProbeDetails(readFixture(version, "list-verbose.txt"));
    expect(details.map((detail) => detail.probe)).toEqual(expected.listVerbose.probes);
    const byProbe = new Map(details.map((detail) => [detail.probe, detail.args]));
    for (const [probe, args] of Object.entries(expected.listVerbose.args)) expect(byProbe.get(probe), probe).toEqual(args);
  });

  it.each(Object.keys(expected.structs))("reads the struct layout in %s", (file) => {
    const want = expected.structs[file];
    const layout = parseStructLayout(readFixture(version, file));
    expect(layout?.name).toBe(want?.name);
    expect(layout?.fields).toHaveLength(want?.fieldCount ?? -1);
    const byName = new Map(layout?.fields.map((field) => [field.name, field.type]));
    for (const [name, type] of Object.entries(want?.fields ?? {})) expect(byName.get(name), name).toBe(type);
    // Padding such as "long: 64;" is not a field.
    expect(byName.has("long")).toBe(false);
  });
});

describe("parseProbeList", () => {
  it("returns nothing for empty input", () => {
    expect(parseProbeList("")).toEqual([]);
    expect(parseProbeList("\n\n  \n")).toEqual([]);
  });

  it("drops duplicates keeping the first position, CRs and trailing spaces", () => {
    const text = "kprobe:vfs_read  \r\nkprobe:vfs_write\r\nkprobe:vfs_read\r\n";
    expect(parseProbeList(text)).toEqual(["kprobe:vfs_read", "kprobe:vfs_write"]);
  });

  it("drops error reports with their echoed source line and underline", () => {
    const text = [
      "stdin:1:1-15: ERROR: kfunc/kretfunc not available for your kernel version.",
      "kfunc:vfs_read",
      "~~~~~~~~~~~~~~",
      "terminate called after throwing an instance of 'std::runtime_error'",
      "  what():  Could not read symbols from /sys/kernel/tracing/available_filter_functions: Operation not permitted",
      "FATAL: Invalid probe type made it to attachpoint parser",
      "libbpf: failed to find BTF",
      "Attaching 1 probe...",
      "@count: 3",
    ].join("\n");
    expect(parseProbeList(text)).toEqual([]);
  });

  it("keeps uprobe names that hold spaces from demangled C++ symbols, and drops indented lines", () => {
    const text = [
      "uprobe:/usr/bin/app:std::vector<int, std::allocator<int> >::push_back(int const&)",
      "    int retval",
      "uprobe:/bin/bash:readline",
    ].join("\n");
    expect(parseProbeList(text)).toEqual([
      "uprobe:/usr/bin/app:std::vector<int, std::allocator<int> >::push_back(int const&)",
      "uprobe:/bin/bash:readline",
    ]);
  });
});

describe("parseProbeDetails", () => {
  it("reads tracepoint arguments of the real 0.17 output, moving array sizes into the type", () => {
    const details = parseProbeDetails(readFixture("0.17.0", "list-verbose.txt"));
    expect(details.map((detail) => detail.probe)).toEqual([
      "tracepoint:sched:sched_skip_cpuset_numa",
      "tracepoint:sched:sched_skip_vma_numa",
      "tracepoint:sched:sched_stat_runtime",
      "tracepoint:sched:sched_stick_numa",
      "tracepoint:sched:sched_swap_numa",
      "tracepoint:sched:sched_switch",
    ]);
    const byProbe = new Map(details.map((detail) => [detail.probe, detail]));
    expect(byProbe.get("tracepoint:sched:sched_switch")?.args).toEqual([
      { type: "char[16]", name: "prev_comm" },
      { type: "pid_t", name: "prev_pid" },
      { type: "int", name: "prev_prio" },
      { type: "long", name: "prev_state" },
      { type: "char[16]", name: "next_comm" },
      { type: "pid_t", name: "next_pid" },
      { type: "int", name: "next_prio" },
    ]);
    expect(byProbe.get("tracepoint:sched:sched_stat_runtime")?.args[0]).toEqual({ type: "__data_loc char[]", name: "comm" });
    expect(byProbe.get("tracepoint:sched:sched_skip_cpuset_numa")?.args[4]).toEqual({
      type: "unsigned long[16]",
      name: "mem_allowed",
    });
    expect(byProbe.get("tracepoint:sched:sched_skip_vma_numa")?.raw[3]).toBe("enum numa_vmaskip_reason reason");
  });

  it.each(["0.20.4", "0.24.1"])("reads fentry/kfunc arguments and retval from the %s fixture", (version) => {
    const details = parseProbeDetails(readFixture(version, "list-verbose.txt"));
    expect(details).toHaveLength(3);
    expect(details[0]?.args).toEqual([
      { type: "struct file *", name: "file" },
      { type: "char *", name: "buf" },
      { type: "size_t", name: "count" },
      { type: "loff_t *", name: "pos" },
      { type: "ssize_t", name: "retval" },
    ]);
    expect(details[2]?.args[1]).toEqual({ type: "const struct iovec *", name: "vec" });
    expect(details[2]?.raw).toHaveLength(6);
  });

  it("reads the newer array spelling, bare retval lines and unnamed parameters", () => {
    const details = parseProbeDetails("tracepoint:raw_syscalls:sys_enter\n    long id\n    unsigned long[6] args\n    retval\n    int\n");
    expect(details).toEqual([
      {
        probe: "tracepoint:raw_syscalls:sys_enter",
        args: [
          { type: "long", name: "id" },
          { type: "unsigned long[6]", name: "args" },
          { type: "", name: "retval" },
        ],
        raw: ["long id", "unsigned long[6] args", "retval", "int"],
      },
    ]);
  });

  it("keeps arguments with their probe when a warning is interleaved", () => {
    const text = [
      'WARNING: No DWARF found for "/bin/bash", cannot show parameter info',
      "uprobe:/bin/bash:read_builtin",
      "kprobe:vfs_read",
      "WARNING: something on stderr",
      "  what():  Could not read symbols from /sys/kernel/tracing/available_filter_functions: Operation not permitted",
      "    struct sockaddr * uservaddr\r",
      "    int dfd   ",
    ].join("\n");
    expect(parseProbeDetails(text)).toEqual([
      { probe: "uprobe:/bin/bash:read_builtin", args: [], raw: [] },
      {
        probe: "kprobe:vfs_read",
        args: [
          { type: "struct sockaddr *", name: "uservaddr" },
          { type: "int", name: "dfd" },
        ],
        raw: ["struct sockaddr * uservaddr", "int dfd"],
      },
    ]);
  });

  it("reports a repeated probe once with its first arguments", () => {
    const details = parseProbeDetails("kfunc:a\n    int x\nkfunc:a\n    int y\n");
    expect(details).toEqual([{ probe: "kfunc:a", args: [{ type: "int", name: "x" }], raw: ["int x"] }]);
  });

  it("returns nothing for empty input, garbage or argument lines without a probe", () => {
    expect(parseProbeDetails("")).toEqual([]);
    expect(parseProbeDetails("    int orphan\nnot a probe line\n")).toEqual([]);
  });
});

describe("parseStructLayout", () => {
  it("reads the real 0.17 task_struct with bitfields, arrays and unnamed padding", () => {
    const text = readFixture("0.17.0", "struct.txt");
    const layout = parseStructLayout(text);
    expect(layout?.name).toBe("struct task_struct");
    expect(layout?.fields).toHaveLength(248);
    expect(layout?.fields[0]).toEqual({ type: "struct thread_info", name: "thread_info" });
    const byName = new Map(layout?.fields.map((field) => [field.name, field.type]));
    expect(byName.get("sched_reset_on_fork")).toBe("unsigned int:1");
    expect(byName.get("comm")).toBe("char[16]");
    expect(byName.get("pid_links")).toBe("struct hlist_node[4]");
    expect(byName.get("last_wakee")).toBe("struct task_struct *");
    expect(byName.has("long")).toBe(false);
    expect(layout?.raw).toBe(text.trimEnd());
  });

  it("lifts anonymous union members and names function pointers in the real 0.17 inode", () => {
    const layout = parseStructLayout(readFixture("0.17.0", "struct-inode.txt"));
    const byName = new Map(layout?.fields.map((field) => [field.name, field.type]));
    expect(byName.get("i_nlink")).toBe("const unsigned int");
    expect(byName.get("__i_nlink")).toBe("unsigned int");
    expect(byName.get("free_inode")).toBe("void (*)(struct inode *)");
    expect(byName.get("i_fop")).toBe("const struct file_operations *");
  });

  it("reads the 0.20 struct path fixture", () => {
    expect(parseStructLayout(readFixture("0.20.4", "struct.txt"))).toEqual({
      name: "struct path",
      fields: [
        { type: "struct vfsmount *", name: "mnt" },
        { type: "struct dentry *", name: "dentry" },
      ],
      raw: "struct path {\n\tstruct vfsmount *mnt;\n\tstruct dentry *dentry;\n};",
    });
  });

  it("lifts an anonymous struct inside an anonymous union from the 0.24 fixture", () => {
    expect(parseStructLayout(readFixture("0.24.1", "struct.txt"))?.fields).toEqual([
      { type: "u32", name: "hash" },
      { type: "u32", name: "len" },
      { type: "u64", name: "hash_len" },
      { type: "const unsigned char *", name: "name" },
    ]);
  });

  it("reads 0.27's header that names the BTF the type comes from", () => {
    expect(parseStructLayout("vmlinux: struct path {\n\tstruct vfsmount *mnt;\n};\n")?.name).toBe("struct path");
    expect(parseStructLayout("nf_conntrack: struct nf_conn {\n\tu32 mark;\n};\n")?.fields).toEqual([{ type: "u32", name: "mark" }]);
  });

  it("keeps a named nested union as one field", () => {
    const layout = parseStructLayout("struct s {\n\tunion {\n\t\tint a;\n\t\tlong b;\n\t} u;\n\tint c;\n};\n");
    expect(layout?.fields).toEqual([
      { type: "union {...}", name: "u" },
      { type: "int", name: "c" },
    ]);
  });

  it("reads the fields of output cut short before the closing brace", () => {
    const layout = parseStructLayout("struct cut {\n\tint a;\n\tchar *b;\n");
    expect(layout?.fields).toEqual([
      { type: "int", name: "a" },
      { type: "char *", name: "b" },
    ]);
  });

  it("returns null when there is no layout, as for an unknown struct on 0.17", () => {
    expect(parseStructLayout("")).toBeNull();
    expect(parseStructLayout("ERROR: unknown struct\nrandom text {\n")).toBeNull();
  });
});

describe("probeGlobToRegExp", () => {
  it.each([
    ["tracepoint:syscalls:sys_enter_*", "tracepoint:syscalls:sys_enter_openat", true],
    ["tracepoint:syscalls:sys_enter_*", "tracepoint:syscalls:sys_exit_openat", false],
    ["kprobe:vfs_rea?", "kprobe:vfs_read", true],
    ["kprobe:vfs_rea?", "kprobe:vfs_readv", false],
    ["kprobe:vfs_[rw]*", "kprobe:vfs_write", true],
    ["kprobe:vfs_[a-c]*", "kprobe:vfs_read", false],
    ["kprobe:vfs_[!r]*", "kprobe:vfs_read", false],
    ["kprobe:vfs_[!r]*", "kprobe:vfs_write", true],
    ["kprobe:{vfs_read,vfs_write}", "kprobe:vfs_write", true],
    ["kprobe:{vfs_read,vfs_write}", "kprobe:vfs_writev", false],
    ["kprobe:vfs_{re*,wr{ite,itev}}", "kprobe:vfs_writev", true],
    ["uprobe:/usr/lib/libc.so.6:malloc", "uprobe:/usr/lib/libcXso.6:malloc", false],
    ["uprobe:/bin/a+b:(f)|g$", "uprobe:/bin/a+b:(f)|g$", true],
    ["kprobe:[unclosed", "kprobe:[unclosed", true],
    ["kprobe:{unclosed", "kprobe:{unclosed", true],
    ["kprobe:vfs_*", "xkprobe:vfs_read", false],
  ])("%s matching %s is %s", (glob, probe, expected) => {
    expect(probeGlobToRegExp(glob).test(probe)).toBe(expected);
  });
});

describe("matchProbes", () => {
  const probes = ["tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_exit_openat", "kprobe:vfs_read", "kprobe:Vfs_Read"];

  it("returns a copy of every probe without a filter", () => {
    const matched = matchProbes(probes, undefined);
    expect(matched).toEqual(probes);
    expect(matched).not.toBe(probes);
    expect(matchProbes(probes, "  ")).toEqual(probes);
  });

  it("matches a plain word as a case-sensitive substring", () => {
    expect(matchProbes(probes, "openat")).toEqual(probes.slice(0, 2));
    expect(matchProbes(probes, "vfs_read")).toEqual(["kprobe:vfs_read"]);
  });

  it("matches a filter with a colon against the whole name", () => {
    expect(matchProbes(probes, "kprobe:vfs_read")).toEqual(["kprobe:vfs_read"]);
    expect(matchProbes(probes, "kprobe:vfs")).toEqual([]);
    expect(matchProbes(probes, "*:sys_exit_*")).toEqual(["tracepoint:syscalls:sys_exit_openat"]);
  });

  it("filters 100k synthetic probes to the right count", () => {
    const many = Array.from({ length: 100_000 }, (_, index) =>
      index % 4 === 0 ? `tracepoint:syscalls:sys_enter_call${index}` : `kprobe:function_${index}`,
    );
    expect(matchProbes(many, "tracepoint:syscalls:sys_enter_*")).toHaveLength(25_000);
    expect(matchProbes(many, "function_9999")).toHaveLength(9);
    expect(matchProbes(many, "kprobe:function_1?")).toHaveLength(8);
  });
});

describe("probeType", () => {
  it.each([
    ["tracepoint:syscalls:sys_enter_openat", "tracepoint"],
    ["uprobe:/bin/bash:readline", "uprobe"],
    ["hardware:*:", "hardware"],
    ["BEGIN", "BEGIN"],
    ["", ""],
  ])("%s is of type %s", (probe, expected) => {
    expect(probeType(probe)).toBe(expected);
  });
});
