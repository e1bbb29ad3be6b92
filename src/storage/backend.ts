// How the store's main-thread side reaches the database: a worker thread in the server (or the
// same thread, inline-backend.ts, in tests that run TypeScript sources: a worker needs the compiled file).
import { Worker } from "node:worker_threads";
import type { StoreReply, StoreRequest, StoreSettings } from "./protocol.js";
import { transferablesOf } from "./transfer.js";

export interface StoreBackend {
  /** Sends one request; never rejects (a dead backend answers with an `unavailable` fault). */
  request(request: StoreRequest): Promise<StoreReply>;
  /** Resolves with null once requests can be served, or with why they never will. */
  readonly ready: Promise<string | null>;
  /** Ends the backend; pending requests are answered `unavailable`. */
  terminate(): Promise<void>;
}

const WORKER_FILE = new URL("./sqlite-worker.js", import.meta.url);

/** The database on its own thread: SQLite's waits (locks, fsync) never block the event loop. */
export class WorkerBackend implements StoreBackend {
  readonly ready: Promise<string | null>;
  private readonly worker: Worker;
  private readonly pending = new Map<number, (reply: StoreReply) => void>();
  private nextId = 1;
  private deadReason: string | null = null;

  constructor(settings: StoreSettings, workerFile: URL = WORKER_FILE) {
    // A small young generation: the thread allocates little, and V8 would otherwise grow it to tens of megabytes.
    this.worker = new Worker(workerFile, { workerData: settings, stdout: false, stderr: false, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    // The server's life is its client's: the store thread never keeps the process alive.
    this.worker.unref();
    let resolveReady!: (reason: string | null) => void;
    this.ready = new Promise((resolve) => {
      resolveReady = resolve;
    });
    this.worker.on("message", (message: StoreReply | { ready: boolean; message?: string }) => {
      if ("ready" in message) {
        if (!message.ready) this.die(message.message ?? "the store thread could not start");
        resolveReady(message.ready ? null : this.deadReason);
        return;
      }
      const answer = this.pending.get(message.id);
      this.pending.delete(message.id);
      answer?.(message);
    });
    this.worker.on("error", (error) => {
      this.die(error.message);
      resolveReady(this.deadReason);
    });
    this.worker.on("exit", () => {
      this.die("the store thread exited");
      resolveReady(this.deadReason);
    });
  }

  request(request: StoreRequest): Promise<StoreReply> {
    const id = this.nextId++;
    if (this.deadReason !== null) return Promise.resolve(unavailable(id, this.deadReason));
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker.postMessage({ id, request }, transferablesOf(request));
    });
  }

  async terminate(): Promise<void> {
    this.die("the store was closed");
    await this.worker.terminate();
  }

  private die(reason: string): void {
    this.deadReason ??= reason;
    for (const [id, answer] of this.pending) answer(unavailable(id, this.deadReason));
    this.pending.clear();
  }
}

export function unavailable(id: number, reason: string): StoreReply {
  return { id, ok: false, fault: { kind: "unavailable", message: reason } };
}
