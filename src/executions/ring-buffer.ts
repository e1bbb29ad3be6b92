/** Which pipe a line came from. */
export type OutputStream = "stdout" | "stderr";

export interface OutputLine {
  stream: OutputStream;
  text: string;
}

export interface RingSlice {
  /** Absolute index of the first returned line (may be above the requested offset when lines were dropped). */
  firstIndex: number;
  lines: OutputLine[];
  /** Lines between the requested offset and `firstIndex` that the ring had already dropped. */
  skipped: number;
}

const INITIAL_SLOTS = 16;
const NEWLINE = 0x0a;

/**
 * The output of one execution: a fixed-capacity ring of lines with absolute indexes, so a reader's
 * offset stays meaningful after old lines are evicted. Bounded by line count and by bytes.
 *
 * A line is kept as a byte range of the chunk it was read in (typed arrays hold the ranges), and
 * decoded only when read: storing a flood of lines allocates nothing per line, so it makes no
 * garbage for the collector, and the bytes live outside the JavaScript heap. A chunk is freed once
 * its last line is evicted.
 */
export class OutputRing {
  // All grow with the output, up to capacityLines: a finished run is kept for the retention period,
  // and one that printed three lines must not hold capacityLines slots all that time.
  private chunks: (Buffer | undefined)[] = [];
  private starts = new Int32Array(INITIAL_SLOTS);
  private ends = new Int32Array(INITIAL_SLOTS);
  private streams = new Uint8Array(INITIAL_SLOTS);
  private readonly capacityLines: number;
  private readonly capacityBytes: number;
  /** Absolute index of the oldest kept line. */
  private head = 0;
  /** Lines ever pushed (the absolute index of the next line). */
  private total = 0;
  private keptBytes = 0;

  constructor(capacityLines: number, capacityBytes: number) {
    this.capacityLines = capacityLines;
    this.capacityBytes = capacityBytes;
  }

  /** Appends a line given as text. */
  push(stream: OutputStream, text: string): void {
    const bytes = Buffer.from(text, "utf8");
    this.pushBytes(stream, bytes, 0, bytes.length);
  }

  /** Appends `bytes[start, end)` as a line, keeping a reference to `bytes` (which must not change afterwards). */
  pushBytes(stream: OutputStream, bytes: Buffer, start: number, end: number): void {
    if (this.total - this.head === this.capacityLines) this.evictOldest(1);
    const slot = this.total % this.capacityLines;
    if (slot >= this.streams.length) this.grow();
    this.chunks[slot] = bytes;
    this.starts[slot] = start;
    this.ends[slot] = end;
    this.streams[slot] = stream === "stdout" ? 0 : 1;
    this.total += 1;
    this.keptBytes += end - start;
    // Never evict the line just written, even if it alone exceeds the byte cap.
    while (this.keptBytes > this.capacityBytes && this.total - this.head > 1) this.evictOldest(1);
  }

  /**
   * Appends lines `from <= i < to`, each `bytes[starts[i], ends[i])` (see pushBytes), with the
   * same result as pushing them one by one. A flood sends thousands per call, most of which are
   * evicted soon after: the ranges are copied in at most two block copies (the ring may wrap), and
   * eviction is one pass over the lines it drops, not a check per line pushed.
   */
  pushBatch(stream: OutputStream, bytes: Buffer, starts: Int32Array, ends: Int32Array, from: number, to: number): void {
    if (to - from > this.capacityLines) {
      // Lines the rest of the batch would push out at once: counted as written and dropped.
      this.evictOldest(this.total - this.head);
      this.total += to - this.capacityLines - from;
      this.head = this.total;
      from = to - this.capacityLines;
    }
    const count = to - from;
    if (count <= 0) return;
    const overflow = this.total - this.head + count - this.capacityLines;
    if (overflow > 0) this.evictOldest(overflow);
    while (this.streams.length < Math.min(this.capacityLines, this.total + count)) this.grow();
    const code = stream === "stdout" ? 0 : 1;
    const chunks = this.chunks;
    let slot = this.total % this.capacityLines;
    let index = from;
    while (index < to) {
      // Up to the end of the slots, then again from slot 0.
      const run = Math.min(to - index, this.capacityLines - slot);
      this.starts.set(starts.subarray(index, index + run), slot);
      this.ends.set(ends.subarray(index, index + run), slot);
      this.streams.fill(code, slot, slot + run);
      let added = 0;
      for (let line = 0; line < run; line += 1) {
        chunks[slot + line] = bytes;
        added += (ends[index + line] ?? 0) - (starts[index + line] ?? 0);
      }
      this.keptBytes += added;
      index += run;
      slot = 0;
    }
    this.total += count;
    // Never evict the last line written, even if it alone exceeds the byte cap.
    while (this.keptBytes > this.capacityBytes && this.total - this.head > 1) this.evictOldest(1);
  }

  private grow(): void {
    const size = Math.min(this.capacityLines, this.streams.length * 2);
    const grown = <T extends Int32Array | Uint8Array>(old: T, fresh: T): T => {
      fresh.set(old);
      return fresh;
    };
    this.starts = grown(this.starts, new Int32Array(size));
    this.ends = grown(this.ends, new Int32Array(size));
    this.streams = grown(this.streams, new Uint8Array(size));
  }

  /** Drops the `count` oldest lines (at most all that are kept). */
  private evictOldest(count: number): void {
    let left = Math.min(count, this.total - this.head);
    let slot = this.head % this.capacityLines;
    this.head += left;
    const { starts, ends, chunks } = this;
    let freed = 0;
    while (left > 0) {
      // Up to the end of the slots, then again from slot 0.
      const end = Math.min(this.capacityLines, slot + left);
      left -= end - slot;
      for (; slot < end; slot += 1) {
        freed += (ends[slot] ?? 0) - (starts[slot] ?? 0);
        chunks[slot] = undefined;
      }
      slot = 0;
    }
    this.keptBytes -= freed;
  }

  /** Up to `limit` lines starting at absolute `offset`. */
  read(offset: number, limit: number): RingSlice {
    const start = Math.max(offset, this.head);
    const end = Math.min(this.total, start + Math.max(0, limit));
    const lines: OutputLine[] = [];
    let index = start;
    while (index < end) {
      // A run: lines that follow each other in one chunk, one newline apart (a flood's usual case).
      // It is decoded with one call and split, instead of one decoding call per line.
      const runStart = index;
      const first = index % this.capacityLines;
      const chunk = this.chunks[first];
      const stream: OutputStream = this.streams[first] === 0 ? "stdout" : "stderr";
      let last = first;
      index += 1;
      while (index < end) {
        const next = index % this.capacityLines;
        if (this.chunks[next] !== chunk || this.streams[next] !== this.streams[first] || this.starts[next] !== (this.ends[last] ?? 0) + 1 || chunk?.[this.ends[last] ?? 0] !== NEWLINE) break;
        last = next;
        index += 1;
      }
      const text = chunk?.toString("utf8", this.starts[first], this.ends[last]) ?? "";
      const parts = last === first ? [text] : text.split("\n");
      // A stored range holding a newline itself (not made by the splitter) would split into more: decode such a run line by line.
      if (parts.length === index - runStart) for (const part of parts) lines.push({ stream, text: part });
      else for (let line = runStart; line < index; line += 1) lines.push(this.lineAt(line));
    }
    return { firstIndex: start, lines, skipped: Math.min(start, this.total) - Math.min(offset, this.total) };
  }

  private lineAt(index: number): OutputLine {
    const slot = index % this.capacityLines;
    return { stream: this.streams[slot] === 0 ? "stdout" : "stderr", text: this.chunks[slot]?.toString("utf8", this.starts[slot], this.ends[slot]) ?? "" };
  }

  /** Lines ever written. */
  get linesTotal(): number {
    return this.total;
  }

  /** Lines evicted to respect the caps. */
  get linesDropped(): number {
    return this.head;
  }

  /** Absolute index of the oldest line still kept. */
  get firstAvailable(): number {
    return this.head;
  }

  /** Bytes of line text kept (chunks shared with evicted lines are not counted). */
  get bytesKept(): number {
    return this.keptBytes;
  }
}
