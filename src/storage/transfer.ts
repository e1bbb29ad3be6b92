import type { OutputChunk } from "../executions/store.js";

/** The buffers of the output chunks in `value` (a StoredExecution, or a batch), handed over between threads instead of copied. */
export function transferablesOf(value: unknown): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const addChunk = (chunk: OutputChunk | null | undefined): void => {
    if (!chunk) return;
    for (const view of [chunk.bytes, chunk.ends, chunk.stderr]) {
      // Only a buffer the view fills alone: a slice of a shared pool must be copied, not taken.
      if (view && view.buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) buffers.add(view.buffer);
    }
  };
  if (typeof value === "object" && value !== null) {
    const chunks = (value as { chunks?: OutputChunk[] }).chunks;
    if (Array.isArray(chunks)) for (const chunk of chunks) addChunk(chunk);
    const entries = (value as { entries?: { chunks: OutputChunk[] }[] }).entries;
    if (Array.isArray(entries)) for (const entry of entries) for (const chunk of entry.chunks) addChunk(chunk);
  }
  return [...buffers];
}
