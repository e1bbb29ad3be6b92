/** Receives one line as a byte range of `bytes`, without its newline (or carriage return). */
export type LineSink = (bytes: Buffer, start: number, end: number) => void;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Turns pipe chunks into lines without decoding them or copying each line: a line is handed on as a
 * range of the chunk it arrived in (only a line split across chunks is joined into a buffer of its
 * own), so a flood of short lines costs no allocation per line. A line longer than `maxLineBytes` is
 * cut there, on a UTF-8 character boundary; the rest up to the next newline is discarded and counted.
 */
export class LineSplitter {
  /** The start of an unfinished line, in the order it arrived; at most maxLineBytes + 1 bytes. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** True while discarding the tail of an over-long line. */
  private discarding = false;
  /** Lines that were cut to `maxLineBytes`. */
  truncatedLines = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: LineSink,
  ) {}

  /** Feeds one chunk (copied: the caller may reuse its buffer) and emits every line it finishes. */
  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    // Not from Node's shared 8 KiB pool: a kept line would pin a whole pool slab (other data included)
    // for as long as its execution is retained.
    const owned = Buffer.allocUnsafeSlow(chunk.length);
    chunk.copy(owned);
    let position = 0;
    for (;;) {
      const newline = owned.indexOf(NEWLINE, position);
      if (newline === -1) break;
      this.finishLine(owned, position, newline);
      position = newline + 1;
    }
    if (position < owned.length) this.keepPartial(owned, position);
  }

  /** Emits the last unterminated line, if any. */
  end(): void {
    if (this.pendingBytes > 0 || this.discarding) this.emitPending(Buffer.alloc(0), 0, 0);
  }

  private finishLine(chunk: Buffer, start: number, newline: number): void {
    if (this.pendingBytes > 0 || this.discarding) {
      this.emitPending(chunk, start, newline);
      return;
    }
    this.emit(chunk, start, newline);
  }

  /** Joins the pending start of a line with its end (`chunk[start, end)`) and emits it. */
  private emitPending(chunk: Buffer, start: number, end: number): void {
    const room = this.discarding ? 0 : this.maxLineBytes + 1 - this.pendingBytes;
    const tail = chunk.subarray(start, Math.min(end, start + Math.max(0, room)));
    const line = Buffer.concat([...this.pending, tail]);
    const wasCut = this.discarding;
    this.pending = [];
    this.pendingBytes = 0;
    this.discarding = false;
    if (wasCut) {
      // Already counted when the discarding began.
      this.onLine(line, 0, cutPoint(line, 0, line.length, this.maxLineBytes));
      return;
    }
    this.emit(line, 0, line.length);
  }

  private emit(bytes: Buffer, start: number, end: number): void {
    if (end - start > this.maxLineBytes) {
      this.truncatedLines += 1;
      this.onLine(bytes, start, cutPoint(bytes, start, end, this.maxLineBytes));
      return;
    }
    this.onLine(bytes, start, end > start && bytes[end - 1] === CARRIAGE_RETURN ? end - 1 : end);
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

/** Where to cut `bytes[start, end)` to at most `maxBytes`, backing off so no UTF-8 character is split. */
function cutPoint(bytes: Buffer, start: number, end: number, maxBytes: number): number {
  let cut = Math.min(end, start + maxBytes);
  if (cut === end) return end;
  // A continuation byte (10xxxxxx) at the cut means the character started before it.
  while (cut > start && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut -= 1;
  return cut;
}
