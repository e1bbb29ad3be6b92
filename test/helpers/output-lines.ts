// get_result gives lines as strings, with the indexes of bpftrace's own (stderr) lines apart; tests
// that look at every line as text read pages with RAW_PAGE and turn them back into stream/text pairs.

export interface OutputLine {
  stream: "stdout" | "stderr";
  text: string;
}

/** get_result arguments for a page of every line as printed: map printings as text, no character bound short of a page of 10,000 lines. */
export const RAW_PAGE = { raw_maps: true, max_chars: 2_000_000 } as const;

/** A page's lines with the stream each came from. */
export function pageLines(page: Record<string, unknown>): OutputLine[] {
  const stderr = new Set((page.stderr as number[] | undefined) ?? []);
  return ((page.lines as string[] | undefined) ?? []).map((text, index) => ({ stream: stderr.has(index) ? "stderr" : "stdout", text }));
}
