// The open MCP sessions over HTTP: each bound to the principal that opened it, capped in number,
// and closed after a while without requests or open streams. Closing a session closes its
// McpServer and transport, never an execution: those belong to the principal, not the session.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

export interface HttpSession {
  readonly id: string;
  readonly principalId: string;
  readonly server: McpServer;
  readonly transport: StreamableHTTPServerTransport;
  lastActivityMs: number;
  /** Requests (and GET streams) in progress: a session serving one is not idle. */
  inFlight: number;
}

export interface SessionTableOptions {
  maxSessions: number;
  idleMs: number;
  now?: () => number;
  onClosed?: (session: HttpSession, reason: string) => void;
}

export class SessionTable {
  private readonly sessions = new Map<string, HttpSession>();
  /** Sessions being initialized: they hold a slot before they have an id. */
  private pending = 0;
  private readonly now: () => number;

  constructor(private readonly options: SessionTableOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * Takes a slot for a session `principalId` is about to initialize. At the cap, that principal's
   * own least recently active idle session is closed to make room (a client that restarted without
   * closing its session gets back in); false when it has none: others' sessions are never taken.
   */
  async reserve(principalId: string): Promise<boolean> {
    if (this.sessions.size + this.pending >= this.options.maxSessions) {
      const own = [...this.sessions.values()].filter((session) => session.principalId === principalId && session.inFlight === 0);
      const oldest = own.sort((a, b) => a.lastActivityMs - b.lastActivityMs)[0];
      if (!oldest) return false;
      await this.close(oldest, "replaced: session cap reached");
      if (this.sessions.size + this.pending >= this.options.maxSessions) return false;
    }
    this.pending += 1;
    return true;
  }

  /** Gives back a reserved slot (the session was added, or its initialization failed). */
  release(): void {
    this.pending = Math.max(0, this.pending - 1);
  }

  add(session: HttpSession): void {
    this.sessions.set(session.id, session);
  }

  /** The session, only for the principal that opened it: anyone else is told it does not exist. */
  lookup(id: string, principalId: string): HttpSession | null {
    const session = this.sessions.get(id);
    return session && session.principalId === principalId ? session : null;
  }

  /** Forgets a session whose transport closed. */
  remove(id: string | undefined): void {
    if (id !== undefined) this.sessions.delete(id);
  }

  /** Marks a request on `session` as started; the returned function marks it finished. */
  begin(session: HttpSession): () => void {
    session.inFlight += 1;
    session.lastActivityMs = this.now();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      session.inFlight -= 1;
      session.lastActivityMs = this.now();
    };
  }

  /** Closes every session idle for longer than the idle limit; returns how many. */
  async reapIdle(): Promise<number> {
    const cutoff = this.now() - this.options.idleMs;
    const idle = [...this.sessions.values()].filter((session) => session.inFlight === 0 && session.lastActivityMs <= cutoff);
    await Promise.all(idle.map((session) => this.close(session, "idle")));
    return idle.length;
  }

  /** Closes the sessions whose principal `keep` rejects (a revoked token's); returns how many. */
  async closeUnless(keep: (principalId: string) => boolean, reason: string): Promise<number> {
    const gone = [...this.sessions.values()].filter((session) => !keep(session.principalId));
    await Promise.all(gone.map((session) => this.close(session, reason)));
    return gone.length;
  }

  /** Closes every session (shutdown). */
  async closeAll(reason: string): Promise<void> {
    await Promise.all([...this.sessions.values()].map((session) => this.close(session, reason)));
  }

  private async close(session: HttpSession, reason: string): Promise<void> {
    this.sessions.delete(session.id);
    await session.server.close().catch(() => undefined);
    this.options.onClosed?.(session, reason);
  }
}
