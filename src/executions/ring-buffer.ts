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
/** Bytes of bookkeeping per line slot: start, end, chunk number, stream, and the chunk's line count, live bytes, first line. */
const SLOT_BYTES = 4 + 4 + 8 + 1 + 4 + 4 + 8;
/** A chunk at least this big whose kept lines fill under a quarter of it is compacted. */
const COMPACT_MIN_BYTES = 4_096;

/** Where the bytes every ring holds are counted, and what to give up when they are too many (output-budget.ts). */
export interface RingBudget {
  /** `delta` more (or, negative, fewer) bytes are held. */
  charge(delta: number): void;
  /** Called after `ring` grew: brings the total back within the budget. */
  settle(ring: OutputRing): void;
}

/**
 * The output of one execution: a fixed-capacity ring of lines with absolute indexes, so a reader's
 * offset stays meaningful after old lines are evicted. Bounded by line count and by bytes.
 *
 * A line is kept as a byte range of the chunk it was read in (typed arrays hold the ranges), and
 * decoded only when read: storing a flood of lines allocates nothing per line, so it makes no
 * garbage for the collector, and the bytes live outside the JavaScript heap. The bytes counted are
 * those held: whole chunks (a line keeps its chunk alive), not line lengths. A chunk whose kept
 * lines fill under a quarter of it (the rest of a cut line, or lines evicted) is compacted into a
 * chunk of just those lines, so a few lines never pin a whole 64 KiB read. A chunk is freed once
 * its last line is evicted.
 */
export class OutputRing {
  // All grow with the output, up to capacityLines: a finished run is kept for the retention period,
  // and one that printed three lines must not hold capacityLines slots all that time.
  private starts = new Int32Array(INITIAL_SLOTS);
  private ends = new Int32Array(INITIAL_SLOTS);
  private streams = new Uint8Array(INITIAL_SLOTS);
  /** The chunk of each slot's line: an absolute chunk number (see below). */
  private chunkOf = new Float64Array(INITIAL_SLOTS);
  // The chunks, by absolute number modulo capacityLines: a run of lines from one buffer is one
  // chunk, in push order, so there are never more live chunks than lines.
  private chunkBuffers: (Buffer | undefined)[] = [];
  private chunkLines = new Int32Array(INITIAL_SLOTS);
  private chunkLive = new Int32Array(INITIAL_SLOTS);
  private chunkFirstLine = new Float64Array(INITIAL_SLOTS);
  /** Chunks ever started; the newest is chunksTotal - 1. */
  private chunksTotal = 0;
  private readonly capacityLines: number;
  private readonly capacityBytes: number;
  /** Absolute index of the oldest kept line. */
  private head = 0;
  /** Lines ever pushed (the absolute index of the next line). */
  private total = 0;
  /** Bytes of the chunks held: what the byte cap limits. */
  private heldBytes = 0;
  /** Bytes of the slot arrays, counted in the budget (not the cap, which is about output). */
  private slotBytes = INITIAL_SLOTS * SLOT_BYTES;
  private budget: RingBudget | null;
  /** Lines were dropped to stay within the server's budget (not just this ring's caps). */
  private droppedForBudget = false;

  constructor(capacityLines: number, capacityBytes: number, budget: RingBudget | null = null) {
    this.capacityLines = capacityLines;
    this.capacityBytes = capacityBytes;
    this.budget = budget;
    budget?.charge(this.slotBytes);
  }

  /** Appends a line given as text. */
  push(stream: OutputStream, text: string): void {
    // Not from Node's shared pool: a kept line would pin a whole 8 KiB slab.
    const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
    bytes.write(text, "utf8");
    this.pushBytes(stream, bytes, 0, bytes.length);
  }

  /** Appends `bytes[start, end)` as a line, keeping a reference to `bytes` (which must not change afterwards). */
  pushBytes(stream: OutputStream, bytes: Buffer, start: number, end: number): void {
    if (this.total - this.head === this.capacityLines) this.evictOldest(1);
    const slot = this.total % this.capacityLines;
    while (slot >= this.streams.length) this.grow();
    const chunk = this.chunkFor(bytes);
    const entry = chunk % this.capacityLines;
    this.chunkOf[slot] = chunk;
    this.starts[slot] = start;
    this.ends[slot] = end;
    this.streams[slot] = stream === "stdout" ? 0 : 1;
    this.chunkLines[entry]! += 1;
    this.chunkLive[entry]! += end - start;
    this.total += 1;
    this.fitCaps();
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
    const chunk = this.chunkFor(bytes);
    const entry = chunk % this.capacityLines;
    let slot = this.total % this.capacityLines;
    let index = from;
    let added = 0;
    while (index < to) {
      // Up to the end of the slots, then again from slot 0.
      const run = Math.min(to - index, this.capacityLines - slot);
      this.starts.set(starts.subarray(index, index + run), slot);
      this.ends.set(ends.subarray(index, index + run), slot);
      this.streams.fill(code, slot, slot + run);
      this.chunkOf.fill(chunk, slot, slot + run);
      for (let line = index; line < index + run; line += 1) added += (ends[line] ?? 0) - (starts[line] ?? 0);
      index += run;
      slot = 0;
    }
    this.chunkLines[entry]! += count;
    this.chunkLive[entry]! += added;
    this.total += count;
    this.fitCaps();
  }

  /**
   * Drops every line (the run's output is given up to the budget when `forBudget`), keeping the
   * absolute indexes: a reader's offset still means what it meant.
   */
  clear(forBudget = false): void {
    if (forBudget && this.total > this.head) this.droppedForBudget = true;
    this.evictOldest(this.total - this.head);
    if (!forBudget || this.streams.length === INITIAL_SLOTS) return;
    // Given up for good (a finished run): the slots go too; a late line grows them again.
    const freed = (this.streams.length - INITIAL_SLOTS) * SLOT_BYTES;
    this.starts = new Int32Array(INITIAL_SLOTS);
    this.ends = new Int32Array(INITIAL_SLOTS);
    this.streams = new Uint8Array(INITIAL_SLOTS);
    this.chunkOf = new Float64Array(INITIAL_SLOTS);
    this.chunkLines = new Int32Array(INITIAL_SLOTS);
    this.chunkLive = new Int32Array(INITIAL_SLOTS);
    this.chunkFirstLine = new Float64Array(INITIAL_SLOTS);
    this.chunkBuffers = [];
    this.slotBytes -= freed;
    this.budget?.charge(-freed);
  }

  /** Compacts the newest chunk if it is sparse: nothing more will come from its buffer (the run ended). */
  seal(): void {
    if (this.chunksTotal > 0) this.compactIfSparse(this.chunksTotal - 1);
  }

  /** Stops counting this ring in its budget (the execution is forgotten); its lines stay readable. */
  detach(): void {
    this.budget?.charge(-this.heldBytes - this.slotBytes);
    this.budget = null;
  }

  /**
   * Drops the oldest lines until the ring's chunks take at most `bytes` (never the newest line), for
   * the server's budget; returns the bytes freed.
   */
  shrinkTo(bytes: number): number {
    const before = this.heldBytes;
    while (this.heldBytes > bytes && this.total - this.head > 1) {
      this.droppedForBudget = true;
      this.evictOldest(1);
      this.compactIfSparse(this.chunkOf[this.head % this.capacityLines]!);
    }
    return before - this.heldBytes;
  }

  /** The chunk number for lines of `bytes` pushed now: the newest chunk's if it is the same buffer. */
  private chunkFor(bytes: Buffer): number {
    const newest = this.chunksTotal - 1;
    if (newest >= 0 && this.total > this.head) {
      const entry = newest % this.capacityLines;
      if (this.chunkBuffers[entry] === bytes) return newest;
      // A new buffer: the newest chunk will get no more lines.
      this.compactIfSparse(newest);
    }
    const chunk = this.chunksTotal;
    this.chunksTotal += 1;
    const entry = chunk % this.capacityLines;
    while (entry >= this.chunkLines.length) this.grow();
    this.chunkBuffers[entry] = bytes;
    this.chunkLines[entry] = 0;
    this.chunkLive[entry] = 0;
    this.chunkFirstLine[entry] = this.total;
    this.hold(bytes.length);
    return chunk;
  }

  private hold(delta: number): void {
    this.heldBytes += delta;
    this.budget?.charge(delta);
  }

  /** Bytes held in all, as the budget counts them: the chunks and the slot arrays. */
  get bytesHeld(): number {
    return this.heldBytes + this.slotBytes;
  }

  /** Evicts for the line and byte caps after a push (never the newest line), then settles the budget. */
  private fitCaps(): void {
    if (this.heldBytes > this.capacityBytes) {
      while (this.heldBytes > this.capacityBytes && this.total - this.head > 1) this.evictOldest(1);
      this.compactIfSparse(this.chunkOf[this.head % this.capacityLines]!);
    }
    this.budget?.settle(this);
  }

  /** Copies the kept lines of a chunk whose buffer they fill less than a quarter of into one of their own. */
  private compactIfSparse(chunk: number): void {
    const entry = chunk % this.capacityLines;
    const buffer = this.chunkBuffers[entry];
    const lines = this.chunkLines[entry]!;
    if (!buffer || lines === 0 || buffer.length < COMPACT_MIN_BYTES) return;
    const size = this.chunkLive[entry]! + lines;
    if (size * 4 >= buffer.length) return;
    // One newline after each line, so reads still decode a run of them with one call.
    const compact = Buffer.allocUnsafeSlow(size);
    let at = 0;
    const first = this.chunkFirstLine[entry]!;
    for (let line = first; line < first + lines; line += 1) {
      const slot = line % this.capacityLines;
      const start = this.starts[slot]!;
      const end = this.ends[slot]!;
      buffer.copy(compact, at, start, end);
      this.starts[slot] = at;
      this.ends[slot] = at + end - start;
      at += end - start;
      compact[at++] = NEWLINE;
    }
    this.chunkBuffers[entry] = compact;
    this.hold(compact.length - buffer.length);
  }

  private grow(): void {
    const size = Math.min(this.capacityLines, this.streams.length * 2);
    const grown = <T extends Int32Array | Uint8Array | Float64Array>(old: T, fresh: T): T => {
      fresh.set(old);
      return fresh;
    };
    const added = (size - this.streams.length) * SLOT_BYTES;
    this.slotBytes += added;
    this.budget?.charge(added);
    this.starts = grown(this.starts, new Int32Array(size));
    this.ends = grown(this.ends, new Int32Array(size));
    this.streams = grown(this.streams, new Uint8Array(size));
    this.chunkOf = grown(this.chunkOf, new Float64Array(size));
    this.chunkLines = grown(this.chunkLines, new Int32Array(size));
    this.chunkLive = grown(this.chunkLive, new Int32Array(size));
    this.chunkFirstLine = grown(this.chunkFirstLine, new Float64Array(size));
  }

  /** Drops the `count` oldest lines (at most all that are kept). */
  private evictOldest(count: number): void {
    let left = Math.min(count, this.total - this.head);
    let line = this.head;
    let slot = line % this.capacityLines;
    this.head += left;
    const { starts, ends, chunkOf, chunkLines, chunkLive, chunkFirstLine, chunkBuffers } = this;
    let freed = 0;
    while (left > 0) {
      // Up to the end of the slots, then again from slot 0.
      const end = Math.min(this.capacityLines, slot + left);
      left -= end - slot;
      for (; slot < end; slot += 1) {
        const entry = chunkOf[slot]! % this.capacityLines;
        chunkLive[entry]! -= ends[slot]! - starts[slot]!;
        line += 1;
        chunkFirstLine[entry] = line;
        if (--chunkLines[entry]! === 0) {
          freed += chunkBuffers[entry]?.length ?? 0;
          chunkBuffers[entry] = undefined;
        }
      }
      slot = 0;
    }
    if (freed > 0) this.hold(-freed);
  }

  /** Up to `limit` lines starting at absolute `offset`. */
  read(offset: number, limit: number): RingSlice {
    const start = Math.max(offset, this.head);
    const end = Math.min(this.total, start + Math.max(0, limit));
    const lines: OutputLine[] = [];
    let index = start;
    while (index < end) {
      const run = this.decodeRun(index, end, end - index);
      const stream: OutputStream = run.stderr ? "stderr" : "stdout";
      if (run.parts) for (const part of run.parts) lines.push({ stream, text: part });
      else for (let line = index; line < run.next; line += 1) lines.push(this.lineAt(line));
      index = run.next;
    }
    return { firstIndex: start, lines, skipped: Math.min(start, this.total) - Math.min(offset, this.total) };
  }

  /**
   * The kept lines in [from, to) copied out for the store, decoding nothing: one buffer of the lines
   * joined by newlines, where each ends, and which are stderr (null: none). A run of lines that sit
   * one newline apart in one chunk (a flood's usual case) is one copy. Null when none is kept.
   */
  exportLines(from: number, to: number, allocate: (bytes: number) => Uint8Array = (bytes) => new Uint8Array(new ArrayBuffer(bytes))): { firstLine: number; bytes: Uint8Array; ends: Uint32Array; stderr: Uint8Array | null } | null {
    const first = Math.max(from, this.head);
    const end = Math.min(to, this.total);
    if (end <= first) return null;
    const { capacityLines, starts, ends: lineEnds, streams, chunkOf, chunkBuffers } = this;
    const count = end - first;
    // `allocate` hands out 8-byte aligned views (a fresh buffer, or a slice of the store's shared one).
    const endsView = allocate(count * 4);
    const ends = new Uint32Array(endsView.buffer, endsView.byteOffset, count);
    let stderr: Uint8Array | null = null;
    // One pass over the lines: where each ends in the copy, and the runs to copy (chunk, start, end).
    const runs: number[] = [];
    let at = 0;
    let index = first;
    let slot = first % capacityLines;
    while (index < end) {
      const chunkNumber = chunkOf[slot]!;
      const chunk = chunkBuffers[chunkNumber % capacityLines];
      const runStart = starts[slot]!;
      let lastEnd = lineEnds[slot]!;
      for (;;) {
        ends[index - first] = at + lastEnd - runStart;
        if (streams[slot] === 1) (stderr ??= new Uint8Array(count))[index - first] = 1;
        index += 1;
        slot = slot + 1 === capacityLines ? 0 : slot + 1;
        if (index >= end || chunkOf[slot] !== chunkNumber || starts[slot] !== lastEnd + 1 || chunk?.[lastEnd] !== NEWLINE) break;
        lastEnd = lineEnds[slot]!;
      }
      runs.push(chunkNumber, runStart, lastEnd);
      at += lastEnd - runStart + 1;
    }
    const bytes = allocate(at);
    let offset = 0;
    for (let run = 0; run < runs.length; run += 3) {
      const [chunkNumber, runStart, runEnd] = [runs[run]!, runs[run + 1]!, runs[run + 2]!];
      chunkBuffers[chunkNumber % capacityLines]?.copy(bytes, offset, runStart, runEnd);
      offset += runEnd - runStart;
      bytes[offset++] = NEWLINE;
    }
    return { firstLine: first, bytes, ends, stderr };
  }

  /** Makes an empty ring begin at absolute line `index`, as a stored run's ring did (restored from the store). */
  startAt(index: number, evictedForBudget: boolean): void {
    if (this.total !== 0) throw new Error("startAt needs an empty ring");
    this.head = index;
    this.total = index;
    this.droppedForBudget = evictedForBudget;
  }

  /**
   * Calls `visit(text, stderr, index)` for lines `from <= index < to` still kept, decoding runs of
   * adjacent lines with one call as `read` does, without an object per line; stops when `visit`
   * returns false. Returns the index after the last line visited.
   */
  forEach(from: number, to: number, visit: (text: string, stderr: boolean, index: number) => boolean): number {
    let index = Math.max(from, this.head);
    const end = Math.min(to, this.total);
    while (index < end) {
      // Runs are kept short so a caller that stops early has not decoded much it did not want.
      const run = this.decodeRun(index, end, 64);
      for (let line = index; line < run.next; line += 1) {
        const text = run.parts ? (run.parts[line - index] ?? "") : this.lineAt(line).text;
        if (!visit(text, run.stderr, line)) return line + 1;
      }
      index = run.next;
    }
    return index;
  }

  /**
   * A run from kept line `index` (before `end`, at most `maxLines` long): lines that follow each
   * other in one chunk, one newline apart, from one stream (a flood's usual case), decoded with one
   * call and split instead of one call per line. `parts` is null when the run must be decoded line by
   * line: a stored range holding a newline itself (not made by the splitter) would split into more.
   */
  private decodeRun(index: number, end: number, maxLines: number): { parts: string[] | null; stderr: boolean; next: number } {
    const runStart = index;
    const first = index % this.capacityLines;
    const chunk = this.chunkBuffers[this.chunkOf[first]! % this.capacityLines];
    let last = first;
    index += 1;
    while (index < end && index - runStart < maxLines) {
      const next = index % this.capacityLines;
      if (this.chunkOf[next] !== this.chunkOf[first] || this.streams[next] !== this.streams[first] || this.starts[next] !== (this.ends[last] ?? 0) + 1 || chunk?.[this.ends[last] ?? 0] !== NEWLINE) break;
      last = next;
      index += 1;
    }
    const text = chunk?.toString("utf8", this.starts[first], this.ends[last]) ?? "";
    const parts = last === first ? [text] : text.split("\n");
    return { parts: parts.length === index - runStart ? parts : null, stderr: this.streams[first] === 1, next: index };
  }

  /** Whether kept line `index` came from stderr. */
  isStderr(index: number): boolean {
    return this.streams[index % this.capacityLines] === 1;
  }

  /** Bytes of kept line `index` (0 for a blank line); -1 when it is not kept. */
  lineBytes(index: number): number {
    if (index < this.head || index >= this.total) return -1;
    const slot = index % this.capacityLines;
    return (this.ends[slot] ?? 0) - (this.starts[slot] ?? 0);
  }

  /** Bytes of the kept lines in [from, to), newlines included, counting no further than `cap`. */
  bytesBetween(from: number, to: number, cap = Number.POSITIVE_INFINITY): number {
    let bytes = 0;
    for (let index = Math.max(from, this.head); index < Math.min(to, this.total) && bytes < cap; index += 1) {
      const slot = index % this.capacityLines;
      bytes += (this.ends[slot] ?? 0) - (this.starts[slot] ?? 0) + 1;
    }
    return bytes;
  }

  private lineAt(index: number): OutputLine {
    const slot = index % this.capacityLines;
    const chunk = this.chunkBuffers[this.chunkOf[slot]! % this.capacityLines];
    return { stream: this.streams[slot] === 0 ? "stdout" : "stderr", text: chunk?.toString("utf8", this.starts[slot], this.ends[slot]) ?? "" };
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

  /** Bytes of output held: the chunks the kept lines are ranges of, whole (what the byte cap limits). */
  get bytesKept(): number {
    return this.heldBytes;
  }

  /** Some of this run's output was dropped to stay within the server's memory budget. */
  get evictedForBudget(): boolean {
    return this.droppedForBudget;
  }
}
