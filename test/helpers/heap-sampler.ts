import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { waitFor } from "./server-process.js";

const HEAP_PROBE = fileURLToPath(new URL("./heap-probe.mjs", import.meta.url));

/** What heap-probe.mjs reports after a full garbage collection. */
export interface LiveHeap {
  sample: number;
  /** Bytes of live JavaScript objects. */
  heapUsed: number;
  rss: number;
  /** Handles (pipes, sockets, timers with ref) keeping the event loop alive. */
  activeHandles: number;
}

/** Environment that preloads the heap probe into a server, reporting to `outFile`. */
export function heapProbeEnv(outFile: string): Record<string, string> {
  return { NODE_OPTIONS: `--expose-gc --import ${HEAP_PROBE}`, HEAP_PROBE_OUT: outFile };
}

/** Asks the server (started with heapProbeEnv) for a fresh sample and waits for it. */
export async function sampleLiveHeap(pid: number, outFile: string): Promise<LiveHeap> {
  const read = (): LiveHeap | null => (existsSync(outFile) ? (JSON.parse(readFileSync(outFile, "utf8")) as LiveHeap) : null);
  const previous = read()?.sample ?? 0;
  process.kill(pid, "SIGUSR2");
  if (!(await waitFor(() => (read()?.sample ?? 0) > previous, 5_000))) throw new Error(`no heap sample from ${pid}: was it started with heapProbeEnv()?`);
  return read() as LiveHeap;
}
