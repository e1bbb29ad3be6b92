// bpftrace's stdout as the supervisor files it: lines stored as bytes, a batch at a time, except
// the few worth decoding (told by their first byte): the server's markers, bpftrace's own
// `Lost N events`, and map printings, which the execution's MapCapture finds and parses.

import type { Execution } from "./execution.js";
import { LineSplitter } from "./line-splitter.js";

/** bpftrace's perf buffer overflowed (0.17 and 0.23 say so on stdout, 0.27 on stderr). */
export const LOST_EVENTS = /^Lost (\d+) events$/;
// A map printing with no marker around it (print() while tracing, 0.17's own SIGUSR1 printing) is
// taken as complete once stdout has been quiet this long.
const PRINT_QUIET_MS = 200;
// First bytes of the stdout lines worth decoding outside a map printing: a map line (@), one of the
// server's markers (_), and bpftrace's `Lost N events` (L). Every other line is stored undecoded.
const AT = 0x40;
const UNDERSCORE = 0x5f;
const CAPITAL_L = 0x4c;

export interface StdoutReaderOptions {
  maxLineBytes: number;
  attachMarker: string | null;
  snapshotMarkers: { begin: string; end: string } | null;
  endMarkers: { begin: string; dump: string } | null;
  /** The supervisor's reading of a line printed before attach; true when it was the server's, not output. */
  beforeAttach: (line: string) => boolean;
  exited: () => boolean;
}

/** The stdout side of a supervision: feed `lines`, call `afterChunk` after each chunk, `stop` at exit. */
export interface StdoutReader {
  lines: LineSplitter;
  afterChunk: () => void;
  stop: () => void;
}

/** Files bpftrace's stdout into `execution`. */
export function readStdout(execution: Execution, options: StdoutReaderOptions): StdoutReader {
  const { endMarkers } = options;
  const capture = execution.maps;
  const storeText = (text: string): void => {
    const bytes = Buffer.from(text);
    execution.appendBytes("stdout", bytes, 0, bytes.length);
  };
  /** A stdout line that was decoded: the server's markers, bpftrace's own messages, or map printing. */
  const decodedLine = (text: string, bytes: Buffer, start: number, end: number): void => {
    if (!execution.attached && options.beforeAttach(text)) return;
    if (options.attachMarker !== null && text === options.attachMarker) return;
    const lineNumber = execution.ring.linesTotal;
    const markers = options.snapshotMarkers;
    if (markers !== null && text === markers.begin) {
      execution.snapshots.push({ begin: lineNumber, end: null });
      capture.beginDelimited(lineNumber, "snapshot");
      storeText("--- maps snapshot (SIGUSR1) ---");
      return;
    }
    if (markers !== null && text === markers.end) {
      const last = execution.snapshots.at(-1);
      if (last) last.end = lineNumber;
      storeText("--- end of maps snapshot ---");
      capture.endSnapshot(lineNumber);
      return;
    }
    if (endMarkers !== null && text === endMarkers.begin) {
      capture.markEndBegan(lineNumber);
      return;
    }
    if (endMarkers !== null && text === endMarkers.dump) {
      capture.beginDelimited(lineNumber, "exit");
      return;
    }
    const lost = LOST_EVENTS.exec(text);
    if (lost) {
      // bpftrace's own message, not the program's output: filed with its other messages.
      execution.lostEvents += Number(lost[1]);
      execution.appendBytes("stderr", bytes, start, end);
      return;
    }
    capture.feed(text, lineNumber, endMarkers === null && execution.stopReason !== null);
    execution.appendBytes("stdout", bytes, start, end);
  };
  // Lines are decoded only until bpftrace reports attached, while a map printing is being read, and
  // when their first byte says they may matter; the rest are stored as bytes, in runs.
  const lines = new LineSplitter(options.maxLineBytes, (bytes, starts, ends, count) => {
    let runStart = 0;
    for (let index = 0; index < count; index += 1) {
      const start = starts[index] ?? 0;
      const end = ends[index] ?? 0;
      if (execution.attached && !capture.reading) {
        const first = end > start ? bytes[start] : -1;
        if (first !== AT && first !== UNDERSCORE && first !== CAPITAL_L) continue;
      }
      if (index > runStart) execution.appendBatch("stdout", bytes, starts, ends, runStart, index);
      runStart = index + 1;
      decodedLine(bytes.toString("utf8", start, end), bytes, start, end);
    }
    if (runStart < count) execution.appendBatch("stdout", bytes, starts, ends, runStart, count);
  });
  // An undelimited printing is complete once stdout has been quiet for a moment.
  let printTimer: NodeJS.Timeout | undefined;
  const afterChunk = (): void => {
    if (!capture.openWithoutDelimiter) return;
    clearTimeout(printTimer);
    printTimer = setTimeout(() => {
      if (options.exited() || !capture.openWithoutDelimiter) return;
      capture.closeOpen();
      execution.notify();
    }, PRINT_QUIET_MS);
    printTimer.unref();
  };
  return { lines, afterChunk, stop: () => clearTimeout(printTimer) };
}
