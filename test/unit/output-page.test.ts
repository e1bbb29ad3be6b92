import { describe, expect, it } from "vitest";
import { parseSyscallTable } from "../../src/bpftrace/syscall-names.js";
import { Execution } from "../../src/executions/execution.js";
import { diagnoseFlood } from "../../src/executions/flood-diagnosis.js";
import { foldedLine, readPage } from "../../src/executions/output-page.js";

/** An execution fed the way the supervisor feeds one: map lines through the capture, every line into the ring. */
function executionWith(lines: (string | { stderr: string })[], options: { finished?: boolean; ringLines?: number } = {}): Execution {
  const execution = new Execution("ex-000000000001", "BEGIN { }", 5, Date.now(), { ringCapacityLines: options.ringLines ?? 1_000, ringCapacityBytes: 1 << 20 });
  for (const line of lines) {
    if (typeof line !== "string") {
      execution.ring.push("stderr", line.stderr);
      continue;
    }
    const index = execution.ring.linesTotal;
    if (line === "<exit>") {
      execution.maps.beginDelimited(index, "exit");
      continue;
    }
    if (execution.maps.reading || line.startsWith("@")) execution.maps.feed(line, index, false);
    execution.ring.push("stdout", line);
  }
  if (options.finished ?? true) {
    execution.maps.finish(execution.ring.linesTotal);
    execution.finish("timed_out", Date.now());
  }
  return execution;
}

const page = (execution: Execution, request: Partial<Parameters<typeof readPage>[1]> = {}) => readPage(execution, { offset: 0, limit: 1_000, maxChars: 8_000, ...request });

describe("readPage", () => {
  it("folds each map printing into one line and gives its maps, parsed, beside the page", () => {
    const execution = executionWith(["tick 1", "@a[x]: 1", "@a[y]: 5", "tick 2", "<exit>", "", "", "@b: 3", ""]);
    const result = page(execution);
    expect(result.lines).toEqual(["tick 1", "[maps snapshot: @a 2 entries; parsed in maps]", "tick 2", "[maps: @b 1 entry; parsed in maps]"]);
    expect(result.prints.map((print) => print.maps.map((map) => map.name))).toEqual([["@a"], ["@b"]]);
    expect(result.prints[0]?.maps[0]?.entries[0]).toEqual({ key: ["y"], value: 5 });
    expect(result.hasMore).toBe(false);
    expect(foldedLine(result.prints[1] ?? { origin: "end", first_line: 0, maps: [] })).toBe("[maps: @b 1 entry; parsed in maps]");
  });

  it("shows nothing for an exit printing whose maps were all cleared, and no trailing blank lines", () => {
    const execution = executionWith(["done", "", "<exit>", "", ""]);
    expect(page(execution).lines).toEqual(["done"]);
  });

  it("ends a page before a map printing it cannot hold whole, and gives the printing's text with raw_maps", () => {
    const map = Array.from({ length: 20 }, (_, index) => `@m[${index}]: ${index}`);
    const execution = executionWith(["first line", ...map, "last line"]);
    const raw = page(execution, { rawMaps: true, maxChars: 100 });
    expect(raw.lines).toEqual(["first line"]);
    const next = page(execution, { rawMaps: true, maxChars: 1_000, offset: raw.nextOffset });
    expect(next.lines).toEqual([...map, "last line"]);
    // Alone on a page and still too big: as much as fits, and the next page goes on inside it.
    const cut = page(execution, { rawMaps: true, maxChars: 60, offset: 1 });
    expect(cut.lines.length).toBeGreaterThan(0);
    expect(page(execution, { rawMaps: true, maxChars: 60, offset: cut.nextOffset }).lines[0]).toBe(map[cut.lines.length]);
  });

  it("bounds a page by characters, one line at least", () => {
    const execution = executionWith(Array.from({ length: 100 }, (_, index) => `line ${String(index).padStart(3, "0")} ${"x".repeat(40)}`));
    const result = page(execution, { maxChars: 500 });
    expect(result.lines).toHaveLength(10);
    expect(result.nextOffset).toBe(10);
    expect(page(executionWith(["y".repeat(900)]), { maxChars: 100 }).lines).toHaveLength(1);
  });

  it("gives the last lines with tail, a folded printing counting as one", () => {
    const execution = executionWith(["a", "b", "@m: 1", "@n: 2", "c", ""]);
    expect(page(execution, { tail: 2 }).lines).toEqual(["[maps snapshot: @m 1 entry, @n 1 entry; parsed in maps]", "c"]);
  });

  it("keeps bpftrace's messages apart and filters either stream", () => {
    const execution = executionWith(["out 1", { stderr: "WARNING: x" }, "out 2"]);
    expect(page(execution)).toMatchObject({ lines: ["out 1", "WARNING: x", "out 2"], stderr: [1] });
    expect(page(execution, { stream: "stdout" })).toMatchObject({ lines: ["out 1", "out 2"], stderr: [], filtered: 1 });
    expect(page(execution, { stream: "stderr" })).toMatchObject({ lines: ["WARNING: x"], stderr: [0] });
  });

  it("leaves out a map printing still arriving until it is complete", () => {
    const execution = executionWith(["tick", "@a[1]: 1", "@a[2]: 2"], { finished: false });
    expect(page(execution).lines).toEqual(["tick"]);
    expect(page(execution).nextOffset).toBe(1);
    execution.maps.closeOpen();
    expect(page(execution).lines).toEqual(["tick", "[maps snapshot: @a 2 entries; parsed in maps]"]);
  });

  it("gives a map printed again later once, as printed last", () => {
    const execution = executionWith(["@n: 1", "tick", "@n: 2", "tick"]);
    const result = page(execution);
    expect(result.prints).toHaveLength(1);
    expect(result.prints[0]?.maps[0]?.entries).toEqual([{ key: [], value: 2 }]);
  });
});

describe("diagnoseFlood", () => {
  it("says when most lines were dropped, with the fix", () => {
    const execution = executionWith(
      Array.from({ length: 300 }, (_, index) => `event ${index}`),
      { ringLines: 100 },
    );
    const { problems } = diagnoseFlood(execution, [], []);
    expect(problems).toEqual([expect.stringMatching(/^200 of 300 lines were dropped \(only the last 100 are kept\): count in a map/)]);
  });

  it("says when bpftrace lost events", () => {
    const execution = executionWith(["x"]);
    execution.lostEvents = 1234;
    expect(diagnoseFlood(execution, ["x"], []).problems).toEqual(["bpftrace lost 1234 events (its buffer overflowed): print less per event, or aggregate in maps."]);
  });

  it("says when the output is mostly bpftrace processes, from the lines or from the counts", () => {
    const execution = executionWith(["x"]);
    const lines = [...Array.from({ length: 30 }, (_, index) => `write bpftrace ${index}`), ...Array.from({ length: 10 }, (_, index) => `write nginx ${index}`)];
    const fromLines = diagnoseFlood(execution, lines, []);
    expect(fromLines.bpftraceShare).toBe(0.75);
    expect(fromLines.problems[0]).toMatch(/^75% of this output is bpftrace processes' own activity .*\/comm != "bpftrace"\//);
    const counts = { origin: "end" as const, first_line: 0, maps: [{ name: "@", kind: "value" as const, entries_total: 2, entries: [{ key: ["bpftrace", 1], value: 90 }, { key: ["sshd", 2], value: 10 }] }] };
    expect(diagnoseFlood(execution, [], [counts]).bpftraceShare).toBe(0.9);
    expect(diagnoseFlood(execution, ["a", "b"], []).problems).toEqual([]);
  });
});

describe("parseSyscallTable", () => {
  it("reads the kernel headers' __NR_ defines, first name wins", () => {
    const table = parseSyscallTable("#define __NR_read 0\n#define __NR_write 1\n#define __NR3264_fcntl 25\n#define __NR_openat 257\n#define __NR_alias 257\n");
    expect([...table]).toEqual([
      [0, "read"],
      [1, "write"],
      [257, "openat"],
    ]);
  });
});
