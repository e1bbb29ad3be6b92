// The data model of a bpftrace map as the server hands it out: parsed from bpftrace's printing
// (parse-maps.ts), kept with an execution, stored, and compared between runs. JSON-friendly.

/** One part of a map key: a number, a string as printed, or a stack as its frames (innermost first). */
export type MapKeyPart = number | string | string[];

/** An entry of a map of numbers: count(), sum(), min(), max(), avg(), or a plain number. */
export interface ValueEntry {
  /** Empty for a map without a key (`@total`); one part per key element (`@[comm, pid]`). */
  key: MapKeyPart[];
  value: number;
}

/** An entry of a map of strings (`@last[pid] = comm`) or of anything else that is not a number. */
export interface TextEntry {
  key: MapKeyPart[];
  value: string;
}

/** One bucket of a hist()/lhist(): counts of values in [low, high). null bounds are open ends. */
export interface HistBucket {
  low: number | null;
  high: number | null;
  count: number;
}

/** An entry of a hist()/lhist() map, with percentiles estimated from its buckets. */
export interface HistEntry {
  key: MapKeyPart[];
  buckets: HistBucket[];
  /** Sum of the bucket counts. */
  total: number;
  /** Estimated by linear interpolation inside the bucket the percentile falls in; null when empty. */
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/** An entry of a stats() map. */
export interface StatsEntry {
  key: MapKeyPart[];
  count: number;
  average: number;
  total: number;
}

export type ParsedMap =
  | { name: string; kind: "value"; entries: ValueEntry[]; entries_total: number }
  | { name: string; kind: "text"; entries: TextEntry[]; entries_total: number }
  | { name: string; kind: "hist"; entries: HistEntry[]; entries_total: number }
  | { name: string; kind: "stats"; entries: StatsEntry[]; entries_total: number };

/**
 * The maps of one printing (the end of a run, or one snapshot). `name` keeps the `@`; entries are
 * sorted largest first (value, total, or count) and cut to the top N the caller asked for, with
 * `entries_total` saying how many the map had.
 */
export interface MapsPrint {
  /** "end" for the maps bpftrace printed as it exited, "snapshot" for a SIGUSR1/print() printing. */
  origin: "end" | "snapshot";
  /** Absolute output line where the printing begins, so the text lines can be found. */
  first_line: number;
  /** Kept for a stored run: its last line, and lines inside it that belong to no map (still shown). */
  last_line?: number;
  other_lines?: number[];
  maps: ParsedMap[];
}
