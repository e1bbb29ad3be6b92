import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { LineSplitter } from "../../src/executions/line-splitter.js";
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
    // The bytes held, not the lines' lengths: the kept lines keep their whole 24-byte chunk alive.
    expect(ring.bytesKept).toBe(chunk.length);
  });

  it("decodes adjacent ranges one by one when no newline separates them", () => {
    const ring = new OutputRing(10, 1_000_000);
    const chunk = Buffer.from("ab,cd\nef");
    ring.pushBytes("stdout", chunk, 0, 2);
    ring.pushBytes("stdout", chunk, 3, 5);
    ring.pushBytes("stdout", chunk, 6, 8);
    expect(ring.read(0, 10).lines.map((line) => line.text)).toEqual(["ab", "cd", "ef"]);
  });

  it("keeps a stored range that holds a newline as one line", () => {
    const ring = new OutputRing(10, 1_000_000);
    const chunk = Buffer.from("a\nb\nc");
    ring.pushBytes("stdout", chunk, 0, 3);
    ring.pushBytes("stdout", chunk, 4, 5);
    expect(ring.read(0, 10).lines.map((line) => line.text)).toEqual(["a\nb", "c"]);
  });

  it("reads runs of lines from one chunk exactly as line-by-line decoding would", () => {
    // Random text (CR endings, empty, over-long and broken UTF-8 lines, gaps where a line is not
    // stored) fed in random chunks through the splitter, as the supervisor does; every read must
    // match each stored line decoded on its own.
    let seed = 7;
    const random = (below: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % below;
    };
    const pieces = ["a", "bc", "é", "→", "\r", "\n", "\n", "\n", "x".repeat(40)];
    for (let round = 0; round < 200; round += 1) {
      const capacity = 1 + random(60);
      const ring = new OutputRing(capacity, 1 + random(2_000));
      const expected: { stream: string; text: string }[] = [];
      const splitter = new LineSplitter(30, (bytes, starts, ends, count) => {
        for (let index = 0; index < count; index += 1) {
          if (random(10) === 0) continue;
          const stream = random(8) === 0 ? "stderr" : "stdout";
          ring.pushBytes(stream, bytes, starts[index] ?? 0, ends[index] ?? 0);
          expected.push({ stream, text: bytes.toString("utf8", starts[index], ends[index]) });
        }
      });
      const parts: Buffer[] = [];
      for (let count = random(200); count > 0; count -= 1) parts.push(Buffer.from(pieces[random(pieces.length)] ?? ""));
      if (random(3) === 0) parts.push(Buffer.from([0xe2, 0x82, 0x0a, 0xff, 0x0a]));
      const text = Buffer.concat(parts);
      for (let at = 0; at < text.length; ) {
        const size = 1 + random(50);
        splitter.write(text.subarray(at, at + size));
        at += size;
      }
      splitter.end();
      const offset = random(expected.length + 2);
      const limit = 1 + random(80);
      const slice = ring.read(offset, limit);
      const first = Math.max(offset, ring.linesDropped);
      expect(slice.firstIndex).toBe(first);
      expect(slice.lines, `round ${round}`).toEqual(expected.slice(first, Math.min(expected.length, first + limit)));
    }
  });

  it("stores a batch exactly as pushing its lines one by one would", () => {
    // Random batches (empty, wrapping the ring, longer than the ring, over the byte cap) and single
    // lines, into a batch-fed ring and a line-by-line one; every observable must stay equal.
    let seed = 11;
    const random = (below: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % below;
    };
    for (let round = 0; round < 300; round += 1) {
      const capacity = 1 + random(40);
      const capacityBytes = random(4) === 0 ? 1_000_000 : 1 + random(120);
      const batched = new OutputRing(capacity, capacityBytes);
      const single = new OutputRing(capacity, capacityBytes);
      for (let step = 0; step < 30; step += 1) {
        const stream = random(4) === 0 ? "stderr" : "stdout";
        const lines = random(3 * capacity + 2);
        const text = Array.from({ length: lines }, () => "x".repeat(random(12))).join("\n");
        const bytes = Buffer.from(text);
        const starts = new Int32Array(lines + 1);
        const ends = new Int32Array(lines + 1);
        let at = 0;
        text.split("\n").forEach((line, index) => {
          starts[index] = at;
          ends[index] = at + line.length;
          at += line.length + 1;
        });
        const from = lines > 0 ? random(2) : 0;
        if (random(5) === 0 && lines > 0) {
          batched.pushBytes(stream, bytes, starts[0] ?? 0, ends[0] ?? 0);
          single.pushBytes(stream, bytes, starts[0] ?? 0, ends[0] ?? 0);
        } else {
          batched.pushBatch(stream, bytes, starts, ends, from, lines);
          for (let index = from; index < lines; index += 1) single.pushBytes(stream, bytes, starts[index] ?? 0, ends[index] ?? 0);
        }
        const state = (ring: OutputRing) => ({ total: ring.linesTotal, dropped: ring.linesDropped, bytes: ring.bytesKept, all: ring.read(0, 10 * capacity) });
        expect(state(batched), `round ${round}, step ${step}`).toEqual(state(single));
      }
    }
  });
});

describe("OutputRing memory", () => {
  /** What a pipe delivers for a flood of long lines: 64 KiB reads, each line 60 KB plus a short one. */
  function floodOfLongLines(reads: number): Buffer[] {
    const text = Buffer.from(Array.from({ length: reads + 1 }, (_, index) => `${"L".repeat(60_000)}\nshort ${index}\n`).join(""));
    const chunks: Buffer[] = [];
    for (let at = 0; at < text.length && chunks.length < reads; at += 65_536) chunks.push(text.subarray(at, at + 65_536));
    return chunks;
  }

  /** Bytes of Buffers alive after full garbage collections (backing stores are freed off-thread: a few rounds). */
  async function liveBufferBytes(): Promise<number> {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    for (let round = 0; round < 4; round += 1) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return process.memoryUsage().arrayBuffers;
  }

  it("counts the bytes it holds, not the lines' lengths, and compacts chunks its kept lines barely fill", async () => {
    const chunks = floodOfLongLines(200);
    const before = await liveBufferBytes();
    const ring = new OutputRing(10_000, 16 * 1024 * 1024);
    let lineBytes = 0;
    const splitter = new LineSplitter(8_192, (bytes, starts, ends, count) => {
      ring.pushBatch("stdout", bytes, starts, ends, 0, count);
      for (let index = 0; index < count; index += 1) lineBytes += (ends[index] ?? 0) - (starts[index] ?? 0);
    });
    for (const chunk of chunks) splitter.write(chunk);
    splitter.end();
    ring.seal();
    // What is really alive, measured: a kept line used to pin its whole 64 KiB read (13 MB here).
    expect((await liveBufferBytes()) - before).toBeLessThan(ring.bytesKept + 512 * 1024);
    expect(ring.linesTotal).toBeGreaterThan(300);
    // 60 KB lines are cut to 8 KiB: what is held is those 8 KiB (and their newlines), not the 64 KiB reads they came in.
    expect(ring.bytesKept).toBeLessThan(lineBytes * 1.1 + ring.linesTotal);
    expect(ring.bytesKept).toBeGreaterThanOrEqual(lineBytes);
    const lines = ring.read(0, 10_000).lines;
    expect(lines.filter((line) => line.text.startsWith("short"))).toHaveLength(lines.length - lines.filter((line) => line.text.startsWith("L")).length);
    expect(lines.find((line) => line.text.startsWith("L"))?.text).toHaveLength(8_192);
  });

  it("keeps its byte cap by bytes held, so 60 KB lines in 64 KiB reads stay within it", () => {
    const cap = 1024 * 1024;
    const ring = new OutputRing(10_000, cap);
    let held = 0;
    const splitter = new LineSplitter(65_536, (bytes, starts, ends, count) => {
      ring.pushBatch("stdout", bytes, starts, ends, 0, count);
      held = Math.max(held, ring.bytesKept);
    });
    for (const chunk of floodOfLongLines(200)) splitter.write(chunk);
    expect(held).toBeLessThanOrEqual(cap + 65_536 * 2);
    expect(ring.bytesKept).toBeLessThanOrEqual(cap);
  });

  it("clears for the budget, keeping offsets and saying so", () => {
    const ring = new OutputRing(100, 1_000_000);
    fill(ring, 50);
    ring.clear(true);
    expect(ring).toMatchObject({ linesTotal: 50, linesDropped: 50, bytesKept: 0, evictedForBudget: true });
    expect(ring.read(10, 10)).toEqual({ firstIndex: 50, lines: [], skipped: 40 });
    ring.push("stdout", "late");
    expect(ring.read(50, 10).lines).toEqual([{ stream: "stdout", text: "late" }]);
  });
});
