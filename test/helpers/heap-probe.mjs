// Preloaded into the server under test (NODE_OPTIONS="--expose-gc --import <this file>"): on SIGUSR2
// it collects garbage and writes the live heap and the active handles to $HEAP_PROBE_OUT, so a soak
// can tell a leak from memory the allocator merely keeps.
import { renameSync, writeFileSync } from "node:fs";
import { setImmediate } from "node:timers";

const target = process.env.HEAP_PROBE_OUT;
let sample = 0;
if (target) {
  process.on("SIGUSR2", async () => {
    // Several collections with turns of the event loop between them: one alone leaves garbage that
    // finalizers and V8's caches release late (Node 24 showed 1.5 MB more, gone a round later).
    for (let round = 0; round < 3; round += 1) {
      globalThis.gc?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const memory = process.memoryUsage();
    sample += 1;
    const report = { sample, heapUsed: memory.heapUsed, rss: memory.rss, activeHandles: process._getActiveHandles().length };
    // Written aside and renamed, so a reader never sees half a file.
    writeFileSync(`${target}.tmp`, JSON.stringify(report));
    renameSync(`${target}.tmp`, target);
  });
}
