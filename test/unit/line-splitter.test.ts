import { describe, expect, it } from "vitest";
import { LineSplitter } from "../../src/executions/line-splitter.js";

/** A batch sink that decodes every line into `lines`. */
function collect(lines: string[]) {
  return (bytes: Buffer, starts: Int32Array, ends: Int32Array, count: number): void => {
    for (let index = 0; index < count; index += 1) lines.push(bytes.toString("utf8", starts[index], ends[index]));
  };
}

function split(chunks: (string | Buffer)[], max = 100): { lines: string[]; truncated: number } {
  const lines: string[] = [];
  const splitter = new LineSplitter(max, collect(lines));
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
    const splitter = new LineSplitter(1000, collect(lines));
    for (let index = 0; index < 160; index += 1) splitter.write(chunk);
    splitter.end();
    expect(lines).toEqual(["a".repeat(1000)]);
  });

  it("cuts on a character boundary, never inside a multi-byte character", () => {
    // "é" is 2 bytes: a 5-byte cap falls inside the third one.
    const result = split(["ééé\n"], 5);
    expect(result.lines).toEqual(["éé"]);
    expect(result.truncated).toBe(1);
  });

  it("keeps each line intact when the caller reuses its read buffer", () => {
    const lines: string[] = [];
    const splitter = new LineSplitter(100, collect(lines));
    const reused = Buffer.alloc(8);
    const kept: { bytes: Buffer; start: number; end: number }[] = [];
    const keeper = new LineSplitter(100, (bytes, starts, ends, count) => {
      for (let index = 0; index < count; index += 1) kept.push({ bytes, start: starts[index] ?? 0, end: ends[index] ?? 0 });
    });
    for (const text of ["one\ntw", "o\nthree\n"]) {
      reused.fill(0);
      const length = reused.write(text);
      splitter.write(reused.subarray(0, length));
      keeper.write(reused.subarray(0, length));
    }
    reused.fill(0x21);
    expect(lines).toEqual(["one", "two", "three"]);
    expect(kept.map(({ bytes, start, end }) => bytes.toString("utf8", start, end))).toEqual(["one", "two", "three"]);
  });

  it("matches a plain split of the whole text for any chunking", () => {
    // A reference: split the whole text at once, strip one trailing CR, cut to the cap on a character boundary.
    const reference = (text: string, max: number): { lines: string[]; truncated: number } => {
      const parts = text.split("\n");
      if (parts.at(-1) === "") parts.pop();
      let truncated = 0;
      const lines = parts.map((part) => {
        const bytes = Buffer.from(part);
        if (bytes.length <= max) return part.endsWith("\r") ? part.slice(0, -1) : part;
        truncated += 1;
        let cut = max;
        while (cut > 0 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut -= 1;
        return bytes.toString("utf8", 0, cut);
      });
      return { lines, truncated };
    };
    let seed = 7;
    const random = (below: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % below;
    };
    const alphabet = ["a", "b", "é", "→", "\n", "\n", "\r\n", "xyz"];
    for (let round = 0; round < 300; round += 1) {
      const text = Array.from({ length: random(60) }, () => alphabet[random(alphabet.length)]).join("");
      const bytes = Buffer.from(text);
      const chunks: Buffer[] = [];
      for (let position = 0; position < bytes.length; ) {
        const size = 1 + random(9);
        chunks.push(bytes.subarray(position, position + size));
        position += size;
      }
      const max = 3 + random(12);
      expect(split(chunks, max), `text ${JSON.stringify(text)} max ${max}`).toEqual(reference(text, max));
    }
  });

  it("hands a flood of short lines on in a few batches, in order", () => {
    const calls: number[] = [];
    const lines: string[] = [];
    const splitter = new LineSplitter(100, (bytes, starts, ends, count) => {
      calls.push(count);
      collect(lines)(bytes, starts, ends, count);
    });
    const text = Array.from({ length: 3000 }, (_, index) => `l${index}\n`).join("");
    splitter.write(Buffer.from(text));
    splitter.end();
    expect(lines).toHaveLength(3000);
    expect(lines[2999]).toBe("l2999");
    expect(calls.length).toBeLessThanOrEqual(3);
  });
});
