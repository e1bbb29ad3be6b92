/**
 * Receives lines `i < count` as byte ranges `bytes[starts[i], ends[i])`, without their newline (or
 * carriage return). The arrays are reused after it returns; `bytes` is not.
 */
export type LineBatchSink = (bytes: Buffer, starts: Int32Array, ends: Int32Array, count: number) => void;

// Lines handed on per call: one call per chunk for a flood, instead of one per line.
const BATCH_LINES = 1024;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Turns pipe chunks into lines without decoding them or copying each line: a line is handed on as a
 * range of the chunk it arrived in (only a line split across chunks is joined into a buffer of its
 * own), so a flood of short lines costs no allocation per line. A line longer than `maxLineBytes` is
 * cut there, on a UTF-8 character boundary; the rest up to the next newline is discarded and counted.
 * Lines go out in batches of ranges over one buffer, so the hot loop makes no call per line.
 */
export class LineSplitter {
  /** The start of an unfinished line, in the order it arrived; at most maxLineBytes + 1 bytes. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** True while discarding the tail of an over-long line. */
  private discarding = false;
  /** Lines that were cut to `maxLineBytes`. */
  truncatedLines = 0;
  private readonly starts = new Int32Array(BATCH_LINES);
  private readonly ends = new Int32Array(BATCH_LINES);
  private batched = 0;
  private batchBytes: Buffer | null = null;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLines: LineBatchSink,
  ) {}

  /** Feeds one chunk (copied: the caller may reuse its buffer) and emits every line it finishes. */
  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    // Not from Node's shared 8 KiB pool: a kept line would pin a whole pool slab (other data included)
    // for as long as its execution is retained.
    const owned = Buffer.allocUnsafeSlow(chunk.length);
    chunk.copy(owned);
    const length = owned.length;
    let position = 0;
    if (this.pendingBytes > 0 || this.discarding) {
      // The first newline ends a line that began in an earlier chunk.
      const newline = owned.indexOf(NEWLINE);
      if (newline === -1) {
        this.keepPartial(owned, 0);
        this.flush();
        return;
      }
      this.emitPending(owned, 0, newline);
      position = newline + 1;
    }
    position = this.scanWholeLines(owned, position);
    if (position < length) this.keepPartial(owned, position);
    this.flush();
  }

  /**
   * The hot loop of a flood: queues every line that lies whole in `owned` from `position` on, writing
   * the batch arrays directly (only an over-long line takes the general path), and returns where the
   * unfinished last line starts. Newlines are found with indexOf (memchr): as fast as a byte loop
   * for 8-byte lines, and 4–5× faster for lines of 40–120 bytes. The batch count lives in
   * `this.batched` throughout: kept in a local and written back after the loop, it made V8
   * deoptimize this loop on every chunk.
   */
  private scanWholeLines(owned: Buffer, position: number): number {
    if (this.batched > 0 && this.batchBytes !== owned) this.flush();
    this.batchBytes = owned;
    const { starts, ends, maxLineBytes } = this;
    for (let index = owned.indexOf(NEWLINE, position); index !== -1; index = owned.indexOf(NEWLINE, index + 1)) {
      if (index - position > maxLineBytes) this.emit(owned, position, index);
      else {
        const batched = this.batched;
        starts[batched] = position;
        ends[batched] = lineEnd(owned, position, index);
        this.batched = batched + 1;
        if (batched + 1 === BATCH_LINES) this.flush();
      }
      position = index + 1;
    }
    return position;
  }

  /** Emits the last unterminated line, if any. */
  end(): void {
    if (this.pendingBytes > 0 || this.discarding) this.emitPending(Buffer.alloc(0), 0, 0);
    this.flush();
  }

  /** Queues one line for the next batch; a batch covers one buffer. */
  private push(bytes: Buffer, start: number, end: number): void {
    if (this.batched === BATCH_LINES || (this.batchBytes !== bytes && this.batched > 0)) this.flush();
    this.batchBytes = bytes;
    this.starts[this.batched] = start;
    this.ends[this.batched] = end;
    this.batched += 1;
  }

  private flush(): void {
    if (this.batched === 0 || this.batchBytes === null) return;
    const count = this.batched;
    this.batched = 0;
    this.onLines(this.batchBytes, this.starts, this.ends, count);
  }

  /** Joins the pending start of a line with its end (`chunk[start, end)`) and emits it. */
  private emitPending(chunk: Buffer, start: number, end: number): void {
    const room = this.discarding ? 0 : this.maxLineBytes + 1 - this.pendingBytes;
    const tail = chunk.subarray(start, Math.min(end, start + Math.max(0, room)));
    // Its own buffer, exactly its size and not from Node's shared pool: a kept line pins all of its buffer.
    const line = Buffer.allocUnsafeSlow(this.pendingBytes + tail.length);
    let at = 0;
    for (const piece of [...this.pending, tail]) at += piece.copy(line, at);
    const wasCut = this.discarding;
    this.pending = [];
    this.pendingBytes = 0;
    this.discarding = false;
    if (wasCut) {
      // Already counted when the discarding began.
      this.push(line, 0, cutPoint(line, 0, line.length, this.maxLineBytes));
      return;
    }
    this.emit(line, 0, line.length);
  }

  private emit(bytes: Buffer, start: number, end: number): void {
    if (end - start > this.maxLineBytes) {
      this.truncatedLines += 1;
      this.push(bytes, start, cutPoint(bytes, start, end, this.maxLineBytes));
      return;
    }
    this.push(bytes, start, lineEnd(bytes, start, end));
  }

  private keepPartial(chunk: Buffer, start: number): void {
    if (this.discarding) return;
    // One byte past the cap is enough to know the line is over-long.
    const room = this.maxLineBytes + 1 - this.pendingBytes;
    const piece = chunk.subarray(start, start + room);
    this.pending.push(piece);
    this.pendingBytes += piece.length;
    if (this.pendingBytes > this.maxLineBytes) {
      this.truncatedLines += 1;
      this.discarding = true;
    }
  }
}

/** The end of the line `bytes[start, end)` without its carriage return, if it has one. */
function lineEnd(bytes: Buffer, start: number, end: number): number {
  return end > start && bytes[end - 1] === CARRIAGE_RETURN ? end - 1 : end;
}

/** Where to cut `bytes[start, end)` to at most `maxBytes`, backing off so no UTF-8 character is split. */
function cutPoint(bytes: Buffer, start: number, end: number, maxBytes: number): number {
  let cut = Math.min(end, start + maxBytes);
  if (cut === end) return end;
  // A continuation byte (10xxxxxx) at the cut means the character started before it.
  while (cut > start && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut -= 1;
  return cut;
}
