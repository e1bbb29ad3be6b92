import { unavailable, type StoreBackend } from "./backend.js";
import { StoreDatabase } from "./database.js";
import { classify, StoreFaultError } from "./faults.js";
import type { StoreReply, StoreRequest, StoreSettings } from "./protocol.js";

/** The database on the caller's thread (tests over TypeScript sources). */
export class InlineBackend implements StoreBackend {
  readonly ready: Promise<string | null>;
  private database: StoreDatabase | null;
  private nextId = 1;

  constructor(settings: StoreSettings, now?: () => number) {
    this.database = new StoreDatabase(settings, now);
    this.ready = Promise.resolve(null);
  }

  async request(request: StoreRequest): Promise<StoreReply> {
    const id = this.nextId++;
    await this.ready;
    if (!this.database) return unavailable(id, "the store was closed");
    let reply: StoreReply;
    try {
      // Through structured clone, as with the worker, so no caller shares objects with the database.
      reply = { id, ok: true, value: structuredClone(this.database.handle(structuredClone(request))) };
    } catch (error) {
      reply = { id, ok: false, fault: error instanceof StoreFaultError ? error.fault : classify(error) };
    }
    const notice = this.database.takeNotice();
    if (notice) reply.notice = notice;
    return reply;
  }

  terminate(): Promise<void> {
    this.database = null;
    return Promise.resolve();
  }
}

