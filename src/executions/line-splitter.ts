import { StringDecoder } from "node:string_decoder";

/**
 * Turns pipe chunks into lines without quadratic concatenation: a line longer than `maxLineChars`
 * is cut there (the rest up to the next newline is discarded and counted).
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder("utf8");
  private pending = "";
  /** True while discarding the tail of an over-long line. */
  private discarding = false;
  /** Lines that were cut to `maxLineChars`. */
  truncatedLines = 0;

  constructor(
    private readonly maxLineChars: number,
    private readonly onLine: (text: string) => void,
  ) {}

  /** Feeds one chunk; emits every complete line it finishes. */
  write(chunk: Buffer): void {
    const text = this.decoder.write(chunk);
    let position = 0;
    for (;;) {
      const newline = text.indexOf("\n", position);
      if (newline === -1) break;
      this.finishLine(text, position, newline);
      position = newline + 1;
    }
    if (position < text.length) this.keepPartial(text, position);
  }

  /** Emits the last unterminated line, if any. */
  end(): void {
    const rest = this.decoder.end();
    if (rest.length > 0) this.keepPartial(rest, 0);
    if (this.pending.length > 0 || this.discarding) {
      this.emit(this.pending);
      this.pending = "";
      this.discarding = false;
    }
  }

  private finishLine(text: string, start: number, newline: number): void {
    if (this.discarding) {
      this.emit(this.pending);
      this.pending = "";
      this.discarding = false;
      return;
    }
    let line = this.pending.length > 0 ? this.pending + text.slice(start, newline) : text.slice(start, newline);
    this.pending = "";
    if (line.length > this.maxLineChars) {
      line = line.slice(0, this.maxLineChars);
      this.truncatedLines += 1;
    }
    this.emit(line);
  }

  private keepPartial(text: string, start: number): void {
    if (this.discarding) return;
    const room = this.maxLineChars - this.pending.length;
    const piece = text.slice(start, start + room + 1);
    this.pending += piece;
    if (this.pending.length > this.maxLineChars) {
      this.pending = this.pending.slice(0, this.maxLineChars);
      this.truncatedLines += 1;
      this.discarding = true;
    }
  }

  private emit(line: string): void {
    this.onLine(line.endsWith("\r") ? line.slice(0, -1) : line);
  }
}
