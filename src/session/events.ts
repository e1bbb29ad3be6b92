// What one MCP session hears besides its results: executions' lifecycle as log messages (at the
// level the client set with logging/setLevel), resources/list_changed when executions come and go,
// and throttled resources/updated for the execution resources it subscribed to. Only about
// executions the session's caller may see.

import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { LoggingLevel } from "@modelcontextprotocol/sdk/types.js";
import type { Execution, ExecutionEvent } from "../executions/execution.js";
import { mayAccess, type Principal } from "../executions/principal.js";
import type { ExecutionRegistry, RegistryChange } from "../executions/registry.js";
import type { Logger } from "../logger.js";
import type { SessionChannel } from "../tools/context.js";

/** At most one resources/updated per subscribed execution this often while output arrives (one more at the end). */
export const UPDATE_THROTTLE_MS = 1_000;
// Executions coming and going in a burst make one list_changed.
const LIST_CHANGED_DELAY_MS = 100;

/** The URI of an execution's resource. */
export function executionUri(executionId: string): string {
  return `bpftrace://executions/${executionId}`;
}

interface Subscription {
  execution: Execution;
  lastSentAt: number;
  timer: NodeJS.Timeout | undefined;
}

/** A session's event channel: what tools and resources tell it, and what it sends its client. */
export interface SessionEvents extends SessionChannel {
  /** The principal of the latest request, or null before the first. */
  readonly principal: Principal | null;
  /** Subscribes to an execution's resource; false when the caller may not see it. */
  subscribe(uri: string, principal: Principal): boolean;
  unsubscribe(uri: string): void;
  /** Stops listening to the engine (the session closed). */
  close(): void;
}

/** Listens to the registry for one session, until `close`. */
export function createSessionEvents(server: McpServer, registry: ExecutionRegistry, logger: Logger): SessionEvents {
  let principal: Principal | null = null;
  let closed = false;
  const subscriptions = new Map<string, Subscription>();
  const watched = new Map<string, () => void>();
  let listTimer: NodeJS.Timeout | undefined;

  const connected = (): boolean => {
    if (!closed && !server.isConnected()) close();
    return !closed;
  };
  const visible = (execution: Execution): boolean => principal !== null && mayAccess(principal, execution.ownerId);
  const swallow = (what: string) => (error: unknown) => logger.debug({ err: error instanceof Error ? error.message : String(error) }, `${what} not sent`);

  const log = (level: LoggingLevel, execution: Execution, message: string): void => {
    if (!connected() || !visible(execution)) return;
    const data = { execution_id: execution.id, status: execution.status, message, ...(execution.error ? { error: execution.error } : {}) };
    server.server.sendLoggingMessage({ level, logger: "bpftrace", data }, server.server.transport?.sessionId).catch(swallow("log message"));
  };

  const sendUpdate = (uri: string, subscription: Subscription): void => {
    clearTimeout(subscription.timer);
    subscription.timer = undefined;
    subscription.lastSentAt = Date.now();
    if (!connected()) return;
    server.server.sendResourceUpdated({ uri }).catch(swallow("resources/updated"));
  };

  /** Output arrived: at most one update per UPDATE_THROTTLE_MS; the end is sent at once. */
  const outputFor = (uri: string, subscription: Subscription, ended: boolean): void => {
    if (ended) {
      sendUpdate(uri, subscription);
      return;
    }
    if (subscription.timer !== undefined) return;
    const wait = subscription.lastSentAt + UPDATE_THROTTLE_MS - Date.now();
    if (wait <= 0) sendUpdate(uri, subscription);
    else {
      subscription.timer = setTimeout(() => sendUpdate(uri, subscription), wait);
      subscription.timer.unref();
    }
  };

  const watch = (execution: Execution): void => {
    if (watched.has(execution.id) || execution.finished) return;
    const uri = executionUri(execution.id);
    const stop = execution.observe((event: ExecutionEvent) => {
      const subscription = subscriptions.get(uri);
      if (event === "output") {
        if (subscription) outputFor(uri, subscription, false);
        return;
      }
      if (event === "attached") log("info", execution, `attached ${execution.attachedProbes ?? 0} probe(s)`);
      if (event === "ended") {
        log(execution.status === "failed" ? "warning" : "info", execution, `ended: ${execution.status}`);
        if (subscription) outputFor(uri, subscription, true);
        watched.get(execution.id)?.();
        watched.delete(execution.id);
      }
    });
    watched.set(execution.id, stop);
  };

  const listChanged = (): void => {
    if (listTimer !== undefined) return;
    listTimer = setTimeout(() => {
      listTimer = undefined;
      if (connected()) server.sendResourceListChanged();
    }, LIST_CHANGED_DELAY_MS);
    listTimer.unref();
  };

  const stopWatchingRegistry = registry.watch(({ change, execution }: RegistryChange) => {
    if (!connected() || !visible(execution)) return;
    listChanged();
    if (change === "added") {
      log("info", execution, "started");
      watch(execution);
    } else {
      subscriptions.delete(executionUri(execution.id));
    }
  });

  function close(): void {
    if (closed) return;
    closed = true;
    stopWatchingRegistry();
    for (const stop of watched.values()) stop();
    watched.clear();
    for (const subscription of subscriptions.values()) clearTimeout(subscription.timer);
    subscriptions.clear();
    clearTimeout(listTimer);
  }

  return {
    get principal() {
      return principal;
    },
    sawPrincipal(seen) {
      principal = seen;
    },
    follow(executionId) {
      try {
        const execution = registry.get(executionId, principal ?? undefined);
        watch(execution);
      } catch {
        // Gone already, or not this caller's: nothing to follow.
      }
    },
    subscribe(uri, caller) {
      const id = /^bpftrace:\/\/executions\/(ex-[0-9a-f]{12})$/.exec(uri)?.[1];
      if (id === undefined) return false;
      let execution: Execution;
      try {
        execution = registry.get(id, caller);
      } catch {
        return false;
      }
      principal ??= caller;
      subscriptions.set(uri, { execution, lastSentAt: 0, timer: undefined });
      watch(execution);
      return true;
    },
    unsubscribe(uri) {
      const subscription = subscriptions.get(uri);
      if (subscription) clearTimeout(subscription.timer);
      subscriptions.delete(uri);
    },
    close,
  };
}
