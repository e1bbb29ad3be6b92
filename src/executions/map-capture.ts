// Finds the map printings in a run's stdout as it arrives and parses them, so results carry maps as
// data and a page of output never ends inside one. Only lines that may belong to a printing are
// decoded and fed here (the supervisor checks one byte of every other line).

import { keptMap } from "../bpftrace/map-summary.js";
import type { MapsPrint, ParsedMap } from "../bpftrace/maps.js";
import { MapPrintParser } from "../bpftrace/parse-maps.js";

/** Where one printing sits in the output: absolute lines `first` to `last`, both included. */
export interface MapRegion {
  first: number;
  last: number;
  /** Its maps, parsed; empty when the printing held none (bpftrace's blank lines at exit). */
  print: MapsPrint;
  /** Lines inside it that are not part of a map (e.g. a printf drained late): still shown. */
  others: number[];
}

/** How a printing is delimited: by the server's markers (exact) or by what surrounds it (heuristic). */
type Delimiter = "snapshot" | "exit" | "none";

interface OpenRegion {
  first: number;
  /** The last line that belonged to a map (blank lines after it may still be separators). */
  last: number;
  parser: MapPrintParser;
  delimiter: Delimiter;
  origin: MapsPrint["origin"];
  others: number[];
}

/** The printings of one run: the closed ones, and the one being read. */
export class MapCapture {
  readonly regions: MapRegion[] = [];
  private open: OpenRegion | null = null;
  /** Where END began (the absolute line after its first marker), once it has. */
  endBeganAt: number | null = null;
  /** A run's map printings, for results and storage (empty printings left out). */
  readonly prints: MapsPrint[] = [];

  /** `transform` is applied to every map parsed (e.g. naming syscall numbers in keys). */
  constructor(private readonly transform: (map: ParsedMap) => ParsedMap = (map) => map) {}

  /** True while lines must be decoded and fed here: a printing is open. */
  get reading(): boolean {
    return this.open !== null;
  }

  /** True when the open printing can only end by what follows it (no marker will close it). */
  get openWithoutDelimiter(): boolean {
    return this.open !== null && this.open.delimiter === "none";
  }

  /** The first line of the printing still being read, or null. */
  get openFrom(): number | null {
    return this.open?.first ?? null;
  }

  /** END has begun at `line`: what it prints counts as the end of the run. */
  markEndBegan(line: number): void {
    this.closeOpen();
    this.endBeganAt ??= line;
  }

  /** A delimited printing starts at `line` (a snapshot's heading, or bpftrace's maps at exit). */
  beginDelimited(line: number, delimiter: "snapshot" | "exit"): void {
    this.closeOpen();
    const origin = delimiter === "exit" || this.endBeganAt !== null ? "end" : "snapshot";
    this.open = { first: line, last: line - 1, parser: new MapPrintParser(), delimiter, origin, others: [] };
  }

  /** A snapshot's end marker arrived as `line` (kept as a heading, so part of the printing). */
  endSnapshot(line: number): void {
    if (this.open?.delimiter !== "snapshot") return;
    this.open.last = line;
    this.closeOpen();
  }

  /**
   * Reads stdout line `line`; returns whether it belongs to a printing. A line that ends an
   * undelimited printing closes it and is not part of it.
   */
  feed(text: string, line: number, ending: boolean): boolean {
    const open = this.open;
    if (open === null) {
      if (!MapPrintParser.startsMap(text)) return false;
      const origin = this.endBeganAt !== null || ending ? "end" : "snapshot";
      this.open = { first: line, last: line, parser: new MapPrintParser(), delimiter: "none", origin, others: [] };
      this.open.parser.feed(text);
      return true;
    }
    const verdict = open.parser.feed(text);
    if (open.delimiter !== "none") {
      // Between the server's markers everything is the printing; a line that is no map stays visible.
      open.last = line;
      if (verdict === "other") open.others.push(line);
      return true;
    }
    if (verdict === "map") {
      open.last = line;
      return true;
    }
    if (verdict === "blank") return true;
    this.closeOpen();
    // The line that ended it may start the next printing.
    return this.feed(text, line, ending);
  }

  /** Ends the open printing (at its last map line, or the last line it took for a delimited one). */
  closeOpen(): MapRegion | null {
    const open = this.open;
    if (open === null) return null;
    this.open = null;
    const maps = open.parser.finish().map((map) => this.transform(keptMap(map)));
    const print: MapsPrint = { origin: open.origin, first_line: open.first, maps };
    if (open.last < open.first) return null;
    const region = { first: open.first, last: open.last, print, others: open.others };
    this.regions.push(region);
    if (maps.length > 0) this.prints.push(print);
    return region;
  }

  /** Every printing with where it sits, empty ones included: what the store keeps, so a stored run pages as it did live. */
  persisted(): MapsPrint[] {
    return this.regions.map((region) => ({ ...region.print, last_line: region.last, other_lines: region.others }));
  }

  /** The printings of a stored run, as persisted() gave them. */
  restore(prints: readonly MapsPrint[]): void {
    for (const stored of prints) {
      const { last_line: last, other_lines: others, ...print } = stored;
      this.regions.push({ first: print.first_line, last: last ?? print.first_line, print, others: others ?? [] });
      if (print.maps.length > 0) this.prints.push(print);
    }
  }

  /** At the end of the output: a delimited printing takes the trailing lines up to `linesTotal`. */
  finish(linesTotal: number): void {
    if (this.open && this.open.delimiter !== "none") this.open.last = Math.max(this.open.last, linesTotal - 1);
    this.closeOpen();
  }

  /** The printings that touch lines [from, to), in order. */
  regionsIn(from: number, to: number): MapRegion[] {
    return this.regions.filter((region) => region.last >= from && region.first < to);
  }
}
