// Reads a finished execution's whole output back through get_result and tallies what bpftrace said.
import { structured } from "./mcp-server.mjs";

const LOST_LINE = /^Lost (\d+) events$/;
const MAP_LINE = /^@(\w+): (\d+)$/;

/** An empty tally; `add` folds lines into it. */
export function newTally() {
  return { lines: 0, printfLines: 0, lostEvents: 0, lostReports: 0, stderrLines: 0, maps: {} };
}

/** Folds one line of bpftrace output into `tally` (printf lines are those starting with `printfPrefix`). */
export function addLine(tally, stream, text, printfPrefix) {
  tally.lines += 1;
  // bpftrace's own report: the server files it with bpftrace's messages (stderr) on every version.
  const lost = LOST_LINE.exec(text);
  if (lost) {
    tally.lostReports += 1;
    tally.lostEvents += Number(lost[1]);
    return;
  }
  if (stream === "stderr") {
    tally.stderrLines += 1;
    return;
  }
  if (text.startsWith(printfPrefix)) {
    tally.printfLines += 1;
    return;
  }
  const map = MAP_LINE.exec(text);
  // The first print wins: a later automatic print at exit may show the map cleared.
  if (map && !(map[1] in tally.maps)) tally.maps[map[1]] = Number(map[2]);
}

/** Pages through every kept line of `executionId` (10,000 at a time) and tallies them. */
export async function tallyExecution(server, executionId, printfPrefix) {
  const tally = newTally();
  let offset = 0;
  let last;
  for (;;) {
    // Map printings as text (raw_maps), and pages as large as the line limit.
    last = structured(await server.call("get_result", { execution_id: executionId, offset, limit: 10_000, max_chars: 2_000_000, raw_maps: true }));
    const stderr = new Set(last.stderr);
    last.lines.forEach((text, index) => addLine(tally, stderr.has(index) ? "stderr" : "stdout", text, printfPrefix));
    offset = last.next_offset;
    if (!last.has_more) break;
  }
  return { tally, linesTotal: last.lines_total, linesDropped: last.lines_dropped, status: last.status };
}
