/** What a caller may do. read: discover (probes, info, examples, structs, validate); trace: run and manage its own executions; admin: see and stop everyone's. */
export type Scope = "bpftrace:read" | "bpftrace:trace" | "bpftrace:admin";

export const SCOPES: readonly Scope[] = ["bpftrace:read", "bpftrace:trace", "bpftrace:admin"];

/**
 * Who is asking, decided once at the edge (the stdio transport, or HTTP authentication) and passed
 * to the engine with every request: executions belong to the principal that started them.
 */
export interface Principal {
  /** Stable name: "local" on stdio, a static token's name, or an OAuth subject or client id. */
  readonly id: string;
  readonly scopes: ReadonlySet<Scope>;
  /** The peer's address over HTTP; null on stdio. */
  readonly remoteAddress: string | null;
}

/** The one user of a stdio server: whoever started it, with every scope. */
export const LOCAL_PRINCIPAL: Principal = Object.freeze({ id: "local", scopes: new Set<Scope>(SCOPES), remoteAddress: null });

// Each scope includes the ones before it: whoever may trace may also discover probes.
const RANK: Record<Scope, number> = { "bpftrace:read": 0, "bpftrace:trace": 1, "bpftrace:admin": 2 };

/** True when `principal` holds `scope` or a broader one (admin > trace > read). */
export function hasScope(principal: Principal, scope: Scope): boolean {
  for (const held of principal.scopes) if (RANK[held] >= RANK[scope]) return true;
  return false;
}

/** True when `principal` may act on an execution owned by `ownerId`. */
export function mayAccess(principal: Principal, ownerId: string): boolean {
  return principal.id === ownerId || hasScope(principal, "bpftrace:admin");
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}
