// One page of an execution's output for a reader with a context window: bounded by characters as
// well as lines, never ending inside a map printing, with each printing folded into one line whose
// maps come parsed beside the page (unless the reader asks for the raw text).

import type { MapsPrint } from "../bpftrace/maps.js";
import type { Execution } from "./execution.js";
import type { MapRegion } from "./map-capture.js";

export interface PageRequest {
  /** First line (absolute); ignored when `tail` is given. */
  offset: number;
  /** The last N lines (a folded printing counts as one) instead of an offset. */
  tail?: number | undefined;
  /** Most lines in the page. */
  limit: number;
  /** Most characters of line text in the page (newlines counted); one line is always given. */
  maxChars: number;
  /** Only this stream's lines (stderr: bpftrace's own messages). */
  stream?: "stdout" | "stderr" | undefined;
  /** Map printings as their text lines instead of one folded line each. */
  rawMaps?: boolean | undefined;
}

export interface OutputPage {
  /** Absolute index of the first line the page covers. */
  offset: number;
  /** Where the next page starts. */
  nextOffset: number;
  lines: string[];
  /** Indexes into `lines` of bpftrace's own messages (stderr). */
  stderr: number[];
  /** The map printings this page covers, parsed (a map printed again later in the page only once, the latest). */
  prints: MapsPrint[];
  /** Complete output exists past nextOffset. */
  hasMore: boolean;
  /** Lines between the requested offset and `offset` the ring had already dropped. */
  skipped: number;
  /** Lines left out by the stream filter. */
  filtered: number;
}

/** The line a folded printing is shown as. */
export function foldedLine(print: MapsPrint): string {
  const maps = print.maps.map((map) => `${map.name} ${map.entries_total} ${map.entries_total === 1 ? "entry" : "entries"}`).join(", ");
  return `[${print.origin === "end" ? "maps" : "maps snapshot"}: ${maps}; parsed in maps]`;
}

/** Reads one page of `execution`'s complete output. */
export function readPage(execution: Execution, request: PageRequest): OutputPage {
  const { ring } = execution;
  const available = execution.readableUpTo;
  const regions = execution.maps.regionsIn(0, available);
  const wanted = (stderr: boolean): boolean => request.stream === undefined || (request.stream === "stderr") === stderr;
  const requested = request.tail === undefined ? request.offset : tailStart(execution, regions, available, request.tail, wanted);
  const start = Math.min(Math.max(requested, ring.firstAvailable), Math.max(available, requested));
  const page: OutputPage = { offset: start, nextOffset: start, lines: [], stderr: [], prints: [], hasMore: false, skipped: Math.max(0, Math.min(start, ring.linesTotal) - Math.min(requested, ring.linesTotal)), filtered: 0 };
  let chars = 0;
  let full = false;
  const take = (text: string, stderr: boolean): boolean => {
    if (page.lines.length >= request.limit || (page.lines.length > 0 && chars + text.length + 1 > request.maxChars)) {
      full = true;
      return false;
    }
    if (stderr) page.stderr.push(page.lines.length);
    page.lines.push(text);
    chars += text.length + 1;
    return true;
  };
  let index = start;
  let regionAt = regions.findIndex((region) => region.last >= start);
  while (index < available && !full) {
    const region = regionAt >= 0 ? regions[regionAt] : undefined;
    const segmentEnd = region && region.first <= available ? Math.max(index, region.first) : available;
    // Plain lines up to the next printing.
    if (index < segmentEnd) {
      let stoppedAt = -1;
      ring.forEach(index, segmentEnd, (text, stderr, line) => {
        if (!wanted(stderr)) {
          page.filtered += 1;
          return true;
        }
        if (take(text, stderr)) return true;
        stoppedAt = line;
        return false;
      });
      if (stoppedAt >= 0) {
        index = stoppedAt;
        break;
      }
      index = segmentEnd;
      continue;
    }
    if (!region) break;
    // A printing comes whole or not at all: one folded line (its maps beside the page) plus whatever
    // inside it is not a map, or with raw_maps every line of it.
    const shown: { text: string; stderr: boolean }[] = [];
    if (request.rawMaps) {
      ring.forEach(Math.max(index, region.first), region.last + 1, (text, stderr) => {
        if (wanted(stderr)) shown.push({ text, stderr });
        else page.filtered += 1;
        return true;
      });
    } else {
      if (region.print.maps.length > 0 && wanted(false)) shown.push({ text: foldedLine(region.print), stderr: false });
      const others = new Set(region.others);
      for (let line = Math.max(index, region.first); line <= region.last; line += 1) {
        const stderr = ring.isStderr(line);
        if ((stderr || others.has(line)) && wanted(stderr) && ring.lineBytes(line) >= 0) {
          ring.forEach(line, line + 1, (text) => (shown.push({ text, stderr }), true));
        }
      }
    }
    const room = request.limit - page.lines.length;
    const size = shown.reduce((sum, line) => sum + line.text.length + 1, 0);
    if (page.lines.length > 0 && (shown.length > room || chars + size > request.maxChars)) {
      full = true;
      break;
    }
    // Alone on a page and still too big (raw text of a huge map): as much as fits, and the page says where it stopped.
    let taken = 0;
    for (const line of shown) {
      if (page.lines.length > 0 && (page.lines.length >= request.limit || chars + line.text.length + 1 > request.maxChars)) break;
      if (line.stderr) page.stderr.push(page.lines.length);
      page.lines.push(line.text);
      chars += line.text.length + 1;
      taken += 1;
    }
    if (taken < shown.length) {
      index = cutPoint(execution, region, index, taken, request, wanted);
      if (region.print.maps.length > 0) page.prints.push(region.print);
      full = true;
      break;
    }
    if (region.print.maps.length > 0) page.prints.push(region.print);
    index = region.last + 1;
    regionAt += 1;
  }
  page.nextOffset = Math.max(start, Math.min(index, available));
  if (execution.finished && page.nextOffset >= available) trimTrailingBlanks(page);
  page.hasMore = page.nextOffset < available;
  page.prints = latestOnly(page.prints);
  return page;
}

/** The absolute line after the `taken` lines of a cut printing that were shown (raw text only gets cut). */
function cutPoint(execution: Execution, region: MapRegion, from: number, taken: number, request: PageRequest, wanted: (stderr: boolean) => boolean): number {
  let seen = 0;
  let next = Math.max(from, region.first);
  execution.ring.forEach(next, region.last + 1, (_text, stderr, line) => {
    if (!wanted(stderr)) return true;
    if (seen === taken) {
      next = line;
      return false;
    }
    seen += 1;
    next = line + 1;
    return true;
  });
  return request.rawMaps ? next : region.last + 1;
}

/** The first line of the last `count` units (a folded printing is one) up to `available`. */
function tailStart(execution: Execution, regions: MapRegion[], available: number, count: number, wanted: (stderr: boolean) => boolean): number {
  const { ring } = execution;
  let index = available;
  let units = 0;
  let regionAt = regions.length - 1;
  let trailing = execution.finished;
  while (index > ring.firstAvailable && units < count) {
    const line = index - 1;
    while (regionAt >= 0 && (regions[regionAt]?.first ?? 0) > line) regionAt -= 1;
    const region = regionAt >= 0 ? regions[regionAt] : undefined;
    if (region && region.last >= line) {
      units += region.print.maps.length > 0 ? 1 : 0;
      index = region.first;
      continue;
    }
    const stderr = ring.isStderr(line);
    // Blank lines at the very end of a finished run are not shown: they do not count.
    const blank = ring.lineBytes(line) === 0 && !stderr;
    if (!(trailing && blank) && wanted(stderr)) units += 1;
    if (!blank) trailing = false;
    index = line;
  }
  return index;
}

/** bpftrace ends its output with blank lines (where maps would print, or after clear()): not shown. */
function trimTrailingBlanks(page: OutputPage): void {
  const stderrLines = new Set(page.stderr);
  while (page.lines.length > 0 && page.lines.at(-1)?.trim() === "" && !stderrLines.has(page.lines.length - 1)) page.lines.pop();
}

/** A map printed again later in the page is shown once, as last printed; printings left empty go. */
function latestOnly(prints: MapsPrint[]): MapsPrint[] {
  const seen = new Set<string>();
  const kept: MapsPrint[] = [];
  for (let index = prints.length - 1; index >= 0; index -= 1) {
    const print = prints[index];
    if (!print) continue;
    const maps = print.maps.filter((map) => !seen.has(map.name));
    for (const map of maps) seen.add(map.name);
    if (maps.length > 0) kept.unshift(maps.length === print.maps.length ? print : { ...print, maps });
  }
  return kept;
}
