import type { ExecutionStore, SavedSession, StoredExecution, StoredPage } from "./store.js";

/**
 * The store when persistence is off (BPFTRACE_MCP_STATE_DIR=off) and in tests: executions live
 * only in the registry, for its retention period, as before there was a store. Saved sessions and
 * imported results are kept for the life of the process.
 */
export class MemoryStore implements ExecutionStore {
  readonly persistent = false;
  private readonly imported = new Map<string, StoredExecution>();
  private readonly sessions = new Map<string, SavedSession>();

  track(): void {}

  ended(): void {}

  list(ownerId: string | null, page: { offset: number; limit: number; exclude: readonly string[]; present?: readonly string[] }): Promise<StoredPage> {
    const excluded = new Set(page.exclude);
    const records = [...this.imported.values()]
      .map((stored) => stored.record)
      .filter((record) => (ownerId === null || record.ownerId === ownerId) && !excluded.has(record.id))
      .sort((a, b) => b.startedAt - a.startedAt);
    const present = (page.present ?? []).filter((id) => this.imported.has(id));
    return Promise.resolve({ total: records.length, records: records.slice(page.offset, page.offset + page.limit), present });
  }

  load(id: string): Promise<StoredExecution | null> {
    return Promise.resolve(this.imported.get(id) ?? null);
  }

  forget(id: string): Promise<void> {
    this.imported.delete(id);
    return Promise.resolve();
  }

  put(stored: StoredExecution): Promise<void> {
    this.imported.set(stored.record.id, stored);
    return Promise.resolve();
  }

  saveSession(session: SavedSession): Promise<void> {
    this.sessions.set(sessionKey(session.ownerId, session.name), structuredClone(session));
    return Promise.resolve();
  }

  getSession(ownerId: string, name: string): Promise<SavedSession | null> {
    const session = this.sessions.get(sessionKey(ownerId, name));
    return Promise.resolve(session ? structuredClone(session) : null);
  }

  listSessions(ownerId: string | null): Promise<SavedSession[]> {
    const sessions = [...this.sessions.values()].filter((session) => ownerId === null || session.ownerId === ownerId);
    return Promise.resolve(sessions.sort((a, b) => b.updatedAt - a.updatedAt).map((session) => structuredClone(session)));
  }

  deleteSession(ownerId: string, name: string): Promise<boolean> {
    return Promise.resolve(this.sessions.delete(sessionKey(ownerId, name)));
  }

  sweep(): void {}

  health(): string | null {
    return null;
  }

  notice(): string | null {
    return null;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function sessionKey(ownerId: string, name: string): string {
  return JSON.stringify([ownerId, name]);
}
