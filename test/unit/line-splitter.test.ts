import { describe, expect, it } from "vitest";
import { LineSplitter } from "../../src/executions/line-splitter.js";

function split(chunks: (string | Buffer)[], max = 100): { lines: string[]; truncated: number } {
  const lines: string[] = [];
  const splitter = new LineSplitter(max, (line) => lines.push(line));
  for (const chunk of chunks) splitter.write(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  splitter.end();
  return { lines, truncated: splitter.truncatedLines };
}

describe("LineSplitter", () => {
  it("joins lines split across chunks", () => {
    expect(split(["hel", "lo\nwor", "ld\n"]).lines).toEqual(["hello", "world"]);
  });

  it("emits a final line without a newline at the end", () => {
    expect(split(["a\nb"]).lines).toEqual(["a", "b"]);
  });

  it("keeps empty lines", () => {
    expect(split(["a\n\n\nb\n"]).lines).toEqual(["a", "", "", "b"]);
  });

  it("strips carriage returns", () => {
    expect(split(["a\r\nb\r\n"]).lines).toEqual(["a", "b"]);
  });

  it("does not break a multi-byte character split between chunks", () => {
    const bytes = Buffer.from("é→\n");
    expect(split([bytes.subarray(0, 1), bytes.subarray(1, 3), bytes.subarray(3)]).lines).toEqual(["é→"]);
  });

  it("cuts an over-long line and discards its tail up to the newline", () => {
    const result = split(["x".repeat(50), "y".repeat(80), "z".repeat(30), "\nnext\n"], 100);
    expect(result.lines).toHaveLength(2);
    expect(result.lines[0]).toBe("x".repeat(50) + "y".repeat(50));
    expect(result.lines[1]).toBe("next");
    expect(result.truncated).toBe(1);
  });

  it("cuts an over-long line that arrives in one chunk", () => {
    const result = split([`${"a".repeat(500)}\nb\n`], 100);
    expect(result.lines.map((line) => line.length)).toEqual([100, 1]);
    expect(result.truncated).toBe(1);
  });

  it("handles a 10 MB line without a newline in bounded memory", () => {
    const chunk = Buffer.alloc(65536, 0x61);
    const lines: string[] = [];
    const splitter = new LineSplitter(1000, (line) => lines.push(line));
    for (let index = 0; index < 160; index += 1) splitter.write(chunk);
    splitter.end();
    expect(lines).toEqual(["a".repeat(1000)]);
  });
});
