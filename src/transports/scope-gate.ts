// Decides, from the JSON-RPC body, which scope a request needs, so a caller without it is answered
// 403 insufficient_scope before anything reaches the MCP server (the tools check again).
import { hasScope, type Principal, type Scope } from "../executions/principal.js";
import { scopeFor } from "../tools/scopes.js";

/** The scope one message needs: a tool call its tool's; anything else (listing, reading examples, ping) read. */
export function scopeOfMessage(message: unknown): Scope {
  if (message !== null && typeof message === "object" && (message as { method?: unknown }).method === "tools/call") {
    const name = (message as { params?: { name?: unknown } }).params?.name;
    // A call without a string name fails the SDK's validation and runs nothing.
    if (typeof name === "string") return scopeFor(name);
  }
  return "bpftrace:read";
}

/** The first scope a body (one message or a batch) needs that `principal` lacks; null when it holds them all. */
export function missingScope(principal: Principal, body: unknown): Scope | null {
  const messages = Array.isArray(body) ? body : [body];
  if (!hasScope(principal, "bpftrace:read")) return "bpftrace:read";
  for (const message of messages) {
    const scope = scopeOfMessage(message);
    if (!hasScope(principal, scope)) return scope;
  }
  return null;
}
