// Executions as MCP resources: bpftrace://executions/{id} gives a run's summary, its maps parsed and
// the tail of its output; listed per caller; subscribable (session/events.ts sends the updates).
// A caller sees only its own executions (an admin: all), exactly as through the tools.

import { ResourceTemplate, type McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ErrorCode, McpError, SubscribeRequestSchema, UnsubscribeRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { BpftraceMcpError } from "../errors.js";
import type { Execution } from "../executions/execution.js";
import { diagnoseFlood } from "../executions/flood-diagnosis.js";
import { readPage } from "../executions/output-page.js";
import { executionUri, type SessionEvents } from "../session/events.js";
import { principalOf, type ToolContext } from "../tools/context.js";
import { summarize } from "../tools/execution-view.js";
import { viewMaps } from "../tools/maps-view.js";

const TAIL_LINES = 20;
const TAIL_CHARS = 2_000;
const TOP_ENTRIES = 10;
const PREVIEW_CHARS = 60;

/** What an execution's resource holds, as JSON. */
export function executionDocument(execution: Execution, now: number): Record<string, unknown> {
  const tail = readPage(execution, { offset: 0, tail: TAIL_LINES, limit: TAIL_LINES, maxChars: TAIL_CHARS });
  const prints = execution.latestMaps();
  const diagnosis = diagnoseFlood(execution, tail.lines, prints);
  return {
    ...summarize(execution, now),
    example: execution.example,
    program: execution.program,
    maps: viewMaps(prints, TOP_ENTRIES),
    tail: { offset: tail.offset, lines: tail.lines, stderr: tail.stderr },
    lost_events: execution.lostEvents,
    diagnosis: diagnosis.problems.length > 0 ? diagnosis.problems.join(" ") : null,
  };
}

/** Registers the execution resources and the subscribe/unsubscribe handlers of this session. */
export function registerExecutionResources(server: McpServer, context: ToolContext, events: SessionEvents): void {
  const { registry } = context;
  server.registerResource(
    "execution",
    new ResourceTemplate("bpftrace://executions/{id}", {
      list: (extra) => {
        const principal = principalOf(extra);
        events.sawPrincipal(principal);
        const now = context.now();
        return {
          resources: registry.list(principal).map((execution) => ({
            uri: executionUri(execution.id),
            name: execution.id,
            title: `${execution.status}: ${execution.example ?? preview(execution.program)}`,
            description: `bpftrace run started ${new Date(execution.startedAt).toISOString()}, ${Math.round(execution.durationMs(now) / 1000)} s`,
            mimeType: "application/json",
          })),
        };
      },
      // Completion requests carry no caller: only the ids the session's caller has already been shown.
      complete: { id: (prefix) => (events.principal ? registry.list(events.principal).map((execution) => execution.id).filter((id) => id.startsWith(prefix)) : []) },
    }),
    { title: "bpftrace execution", description: "A run's status, maps (parsed, largest first) and the tail of its output; subscribe for updates.", mimeType: "application/json" },
    (uri, variables, extra) => {
      const principal = principalOf(extra);
      events.sawPrincipal(principal);
      const id = Array.isArray(variables.id) ? variables.id[0] : variables.id;
      let execution: Execution;
      try {
        execution = registry.get(String(id), principal);
      } catch (error) {
        if (error instanceof BpftraceMcpError) throw new McpError(ErrorCode.InvalidParams, `Resource ${uri.href} not found: ${error.message}`);
        throw error;
      }
      return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(executionDocument(execution, context.now())) }] };
    },
  );
  server.server.setRequestHandler(SubscribeRequestSchema, (request, extra) => {
    const principal = principalOf(extra);
    events.sawPrincipal(principal);
    const { uri } = request.params;
    // The examples never change: subscribing to one is accepted and stays silent.
    if (uri.startsWith("bpftrace://examples/")) return {};
    if (!events.subscribe(uri, principal)) throw new McpError(ErrorCode.InvalidParams, `Resource ${uri} not found (list resources for the executions you can see).`);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
    events.unsubscribe(request.params.uri);
    return {};
  });
}

function preview(program: string): string {
  const line = program.replace(/\s+/g, " ").trim();
  return line.length > PREVIEW_CHARS ? `${line.slice(0, PREVIEW_CHARS)}...` : line;
}
