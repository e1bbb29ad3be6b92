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

/**
 * The output of one execution: a fixed-capacity ring of lines with absolute indexes, so a reader's
 * offset stays meaningful after old lines are evicted. Bounded by line count and by characters.
 */
export class OutputRing {
  // Both grow with the output, up to capacityLines: a finished run is kept for the retention period,
  // and one that printed three lines must not hold capacityLines slots all that time.
  private readonly texts: (string | undefined)[] = [];
  private streams = new Uint8Array(16);
  private readonly capacityLines: number;
  private readonly capacityChars: number;
  /** Absolute index of the oldest kept line. */
  private head = 0;
  /** Lines ever pushed (the absolute index of the next line). */
  private total = 0;
  private keptChars = 0;

  constructor(capacityLines: number, capacityChars: number) {
    this.capacityLines = capacityLines;
    this.capacityChars = capacityChars;
  }

  /** Appends a line, evicting the oldest ones past either cap. */
  push(stream: OutputStream, text: string): void {
    if (this.total - this.head === this.capacityLines) this.evictOldest();
    const slot = this.total % this.capacityLines;
    if (slot >= this.streams.length) this.growStreams();
    this.texts[slot] = text;
    this.streams[slot] = stream === "stdout" ? 0 : 1;
    this.total += 1;
    this.keptChars += text.length;
    // Never evict the line just written, even if it alone exceeds the character cap.
    while (this.keptChars > this.capacityChars && this.total - this.head > 1) this.evictOldest();
  }

  private growStreams(): void {
    const grown = new Uint8Array(Math.min(this.capacityLines, this.streams.length * 2));
    grown.set(this.streams);
    this.streams = grown;
  }

  private evictOldest(): void {
    const slot = this.head % this.capacityLines;
    this.keptChars -= this.texts[slot]?.length ?? 0;
    this.texts[slot] = undefined;
    this.head += 1;
  }

  /** Up to `limit` lines starting at absolute `offset`. */
  read(offset: number, limit: number): RingSlice {
    const start = Math.max(offset, this.head);
    const end = Math.min(this.total, start + Math.max(0, limit));
    const lines: OutputLine[] = [];
    for (let index = start; index < end; index += 1) {
      const slot = index % this.capacityLines;
      lines.push({ stream: this.streams[slot] === 0 ? "stdout" : "stderr", text: this.texts[slot] ?? "" });
    }
    return { firstIndex: start, lines, skipped: Math.min(start, this.total) - Math.min(offset, this.total) };
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

  get charsKept(): number {
    return this.keptChars;
  }
}
