import type { Execution } from "./execution.js";
import { hasScope, mayAccess, type Principal } from "./principal.js";
import type { ExecutionRecord, ExecutionStore } from "./store.js";
import { executionFromStore } from "./stored-output.js";

// Executions rebuilt from the store and kept for the next page: a reader pages through one at a time.
const CACHED_EXECUTIONS = 8;
const CACHED_BYTES = 64 * 1024 * 1024;

/** One entry of a listing: a live execution of this process, or a stored record. */
export type ListedExecution = { live: Execution } | { stored: ExecutionRecord };

/**
 * The executions this process no longer (or never) held in memory, served from the store as
 * Executions, so every tool reads them as it reads live ones. Access follows the same rule.
 */
export class StoredExecutions {
  private readonly cache = new Map<string, Execution>();

  constructor(private readonly store: ExecutionStore) {}

  /** The stored execution `id` as an Execution `principal` may see, or null. */
  async find(id: string, principal: Principal): Promise<Execution | null> {
    const cached = this.cache.get(id);
    if (cached) {
      // Most recently used last.
      this.cache.delete(id);
      this.cache.set(id, cached);
      return mayAccess(principal, cached.ownerId) ? cached : null;
    }
    const stored = await this.store.load(id);
    if (!stored || !mayAccess(principal, stored.record.ownerId)) return null;
    const execution = executionFromStore(stored);
    // Another server's running trace changes by the second: only finished ones are kept.
    if (execution.finished) this.remember(execution);
    return execution;
  }

  /**
   * A page of everything `principal` may see, newest first: `live` (this process's executions,
   * which are also stored) merged with the stored ones not among them.
   */
  async page(principal: Principal, live: readonly Execution[], offset: number, limit: number): Promise<{ total: number; entries: ListedExecution[] }> {
    // An admin sees every owner's, as mayAccess says.
    const ownerId = hasScope(principal, "bpftrace:admin") ? null : principal.id;
    const liveIds = live.map((execution) => execution.id);
    // Usually every live run is stored too: the store's page is the page, with live runs read from memory.
    const direct = await this.store.list(ownerId, { offset, limit, exclude: [], present: liveIds });
    if (direct.present?.length === liveIds.length) {
      const byId = new Map(live.map((execution) => [execution.id, execution]));
      const entries = direct.records.map((record): ListedExecution => {
        const execution = byId.get(record.id);
        return execution ? { live: execution } : { stored: record };
      });
      return { total: direct.total, entries };
    }
    // Some live runs are not stored (the store is off or failing): merge the two lists.
    const stored = await this.store.list(ownerId, { offset: 0, limit: offset + limit, exclude: liveIds });
    const merged: ListedExecution[] = [...live.map((execution) => ({ live: execution })), ...stored.records.map((record) => ({ stored: record }))];
    merged.sort((a, b) => startOf(b) - startOf(a));
    return { total: live.length + stored.total, entries: merged.slice(offset, offset + limit) };
  }

  /** Drops `id` from the cache (it was forgotten, or is served live again). */
  evict(id: string): void {
    this.cache.delete(id);
  }

  private remember(execution: Execution): void {
    this.cache.set(execution.id, execution);
    let bytes = 0;
    for (const cached of this.cache.values()) bytes += cached.ring.bytesKept;
    for (const [id, cached] of this.cache) {
      if (this.cache.size <= CACHED_EXECUTIONS && bytes <= CACHED_BYTES) break;
      if (id === execution.id) continue;
      this.cache.delete(id);
      bytes -= cached.ring.bytesKept;
    }
  }
}

function startOf(entry: ListedExecution): number {
  return "live" in entry ? entry.live.startedAt : entry.stored.startedAt;
}
