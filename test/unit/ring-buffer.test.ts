import { describe, expect, it } from "vitest";
import { OutputRing } from "../../src/executions/ring-buffer.js";

function fill(ring: OutputRing, count: number, stream: "stdout" | "stderr" = "stdout"): void {
  for (let index = 0; index < count; index += 1) ring.push(stream, `line ${index}`);
}

describe("OutputRing", () => {
  it("returns lines from an absolute offset with their stream", () => {
    const ring = new OutputRing(10, 1_000_000);
    ring.push("stdout", "a");
    ring.push("stderr", "b");
    ring.push("stdout", "c");
    expect(ring.read(1, 10)).toEqual({ firstIndex: 1, skipped: 0, lines: [{ stream: "stderr", text: "b" }, { stream: "stdout", text: "c" }] });
  });

  it("evicts the oldest lines past the line cap and keeps absolute offsets", () => {
    const ring = new OutputRing(5, 1_000_000);
    fill(ring, 12);
    expect(ring.linesTotal).toBe(12);
    expect(ring.linesDropped).toBe(7);
    expect(ring.firstAvailable).toBe(7);
    const slice = ring.read(9, 2);
    expect(slice.lines.map((line) => line.text)).toEqual(["line 9", "line 10"]);
    expect(slice.firstIndex).toBe(9);
  });

  it("reports how many requested lines were already dropped", () => {
    const ring = new OutputRing(3, 1_000_000);
    fill(ring, 10);
    const slice = ring.read(2, 100);
    expect(slice.firstIndex).toBe(7);
    expect(slice.skipped).toBe(5);
    expect(slice.lines.map((line) => line.text)).toEqual(["line 7", "line 8", "line 9"]);
  });

  it("returns nothing past the end without inventing skipped lines", () => {
    const ring = new OutputRing(3, 1_000_000);
    fill(ring, 2);
    expect(ring.read(50, 10)).toEqual({ firstIndex: 50, lines: [], skipped: 0 });
  });

  it("evicts by bytes when lines are large", () => {
    const ring = new OutputRing(1000, 25);
    for (let index = 0; index < 5; index += 1) ring.push("stdout", "0123456789");
    expect(ring.bytesKept).toBeLessThanOrEqual(25);
    expect(ring.linesDropped).toBe(3);
    expect(ring.read(0, 10).lines).toHaveLength(2);
  });

  it("keeps a single line larger than the byte cap rather than losing it", () => {
    const ring = new OutputRing(10, 5);
    ring.push("stdout", "abcdefghij");
    expect(ring.read(0, 1).lines[0]?.text).toBe("abcdefghij");
  });

  it("wraps around many times without losing order", () => {
    const ring = new OutputRing(7, 1_000_000);
    fill(ring, 10_003);
    expect(ring.read(0, 100).lines.map((line) => line.text)).toEqual(Array.from({ length: 7 }, (_, index) => `line ${9996 + index}`));
  });

  it("stores lines as ranges of a shared chunk and decodes them on read", () => {
    const ring = new OutputRing(3, 1_000_000);
    const chunk = Buffer.from("alpha\nbéta\ngamma\ndelta\n");
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      ring.pushBytes("stdout", chunk, start, newline);
      start = newline + 1;
    }
    expect(ring.read(0, 10).lines.map((line) => line.text)).toEqual(["béta", "gamma", "delta"]);
    // "béta" is 5 bytes: the cap counts bytes, not characters.
    expect(ring.bytesKept).toBe(5 + 5 + 5);
  });
});
