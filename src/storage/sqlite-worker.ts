// The thread that owns the execution store's database: answers one request at a time, in order.
import { getPriority, setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { classify, StoreFaultError } from "./faults.js";
import type { StoreReply, StoreRequest, StoreSettings } from "./protocol.js";
import { transferablesOf } from "./transfer.js";

const port = parentPort;
if (!port) throw new Error("sqlite-worker.ts runs as a worker thread");

// Linux keeps a nice value per thread: this lowers the store's thread only, so writing a flood's
// batch never takes the CPU from the thread reading the trace (or answering requests).
const STORE_THREAD_NICE = 5;
try {
  setPriority(Math.max(getPriority(), STORE_THREAD_NICE));
} catch {
  // Not permitted or not supported: the store works at the server's own priority.
}

try {
  // Loaded here, not imported above: a native module that cannot load (built for another Node) is a fault to report, not a crash.
  const { StoreDatabase } = await import("./database.js");
  const database = new StoreDatabase(workerData as StoreSettings);
  port.on("message", (message: { id: number; request: StoreRequest }) => {
    let reply: StoreReply;
    try {
      const value = database.handle(message.request);
      reply = { id: message.id, ok: true, value };
    } catch (error) {
      reply = { id: message.id, ok: false, fault: error instanceof StoreFaultError ? error.fault : classify(error) };
    }
    const notice = database.takeNotice();
    if (notice) reply.notice = notice;
    // The batch's own buffers (a flush larger than the shared one) go back with the answer: this
    // thread allocates so little that its collector could leave tens of MB of them unfreed for long.
    const spent = transferablesOf(message.request);
    port.postMessage(spent.length > 0 ? { ...reply, spent } : reply, [...(reply.ok ? transferablesOf(reply.value) : []), ...spent]);
    if (message.request.op === "close") port.close();
  });
  port.postMessage({ ready: true });
} catch (error) {
  port.postMessage({ ready: false, message: error instanceof Error ? error.message : String(error) });
}
