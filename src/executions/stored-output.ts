import { Execution } from "./execution.js";
import type { OutputRing } from "./ring-buffer.js";
import type { OutputChunk, StoredExecution } from "./store.js";

/** The ring's kept lines in [from, to) as one chunk for the store (raw bytes, copied in runs); null when none is kept. */
export function chunkFromRing(ring: OutputRing, from: number, to: number, allocate?: (bytes: number) => Uint8Array): OutputChunk | null {
  return ring.exportLines(from, to, allocate);
}

/**
 * An Execution rebuilt from the store: its record, and a ring holding the same lines at the same
 * absolute offsets, so every tool pages it exactly as it paged the live run. The ring references
 * the chunks' bytes (nothing is decoded until read) and counts against no budget: it is a cache.
 */
export function executionFromStore(stored: StoredExecution): Execution {
  const { record, chunks } = stored;
  const kept = Math.max(0, record.linesTotal - record.firstAvailable);
  const execution = new Execution(record.id, record.program, record.timeoutSeconds, record.startedAt, { ringCapacityLines: Math.max(16, kept), ringCapacityBytes: 2 ** 31 }, record.ownerId);
  execution.stored = true;
  execution.status = record.status;
  execution.attached = record.attachedAt !== null;
  execution.attachedAt = record.attachedAt;
  execution.attachedProbes = record.attachedProbes;
  execution.exitCode = record.exitCode;
  execution.exitSignal = record.exitSignal;
  execution.error = record.error;
  execution.truncatedLines = record.truncatedLines;
  execution.maps.restore(record.maps);
  execution.snapshots.push(...record.snapshots);
  execution.ring.startAt(record.firstAvailable, record.outputEvicted);
  for (const chunk of chunks) pushChunk(execution.ring, chunk, record.linesTotal);
  // A running record belongs to another live server: it is shown as stored there, never finished here.
  if (record.endedAt !== null) execution.endedAt = record.endedAt;
  return execution;
}

/** Pushes the chunk's lines from the ring's next offset on (lines below it are already there or dropped). */
function pushChunk(ring: OutputRing, chunk: OutputChunk, linesTotal: number): void {
  const count = chunk.ends.length;
  let index = Math.max(0, ring.linesTotal - chunk.firstLine);
  const last = Math.min(count, linesTotal - chunk.firstLine);
  if (index >= last || chunk.firstLine + index !== ring.linesTotal) return;
  const bytes = Buffer.from(chunk.bytes.buffer, chunk.bytes.byteOffset, chunk.bytes.byteLength);
  const starts = new Int32Array(count);
  const ends = new Int32Array(count);
  for (let line = 0; line < count; line += 1) {
    starts[line] = line === 0 ? 0 : chunk.ends[line - 1]! + 1;
    ends[line] = chunk.ends[line]!;
  }
  // One batch per run of lines from the same stream.
  while (index < last) {
    const stderr = chunk.stderr?.[index] === 1;
    let runEnd = index + 1;
    while (runEnd < last && (chunk.stderr?.[runEnd] === 1) === stderr) runEnd += 1;
    ring.pushBatch(stderr ? "stderr" : "stdout", bytes, starts, ends, index, runEnd);
    index = runEnd;
  }
}
