import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import type { CallToolResult, ServerNotification } from "@modelcontextprotocol/sdk/types.js";
import type { AuditSink } from "../audit/audit-log.js";
import type { BpftraceHost } from "../bpftrace/host.js";
import type { ProbeCatalog } from "../bpftrace/probe-catalog.js";
import type { SystemInfo } from "../bpftrace/system-info.js";
import type { Config } from "../config.js";
import type { Example } from "../examples/catalog.js";
import { BpftraceMcpError, toolError } from "../errors.js";
import { hasScope, LOCAL_PRINCIPAL, type Principal, type Scope } from "../executions/principal.js";
import type { ExecutionRegistry } from "../executions/registry.js";
import type { Logger } from "../logger.js";
import { scopeFor } from "./scopes.js";

/** What every tool may use; built once by createServer. */
export interface ToolContext {
  config: Config;
  host: BpftraceHost;
  registry: ExecutionRegistry;
  probes: ProbeCatalog;
  systemInfo: SystemInfo;
  examples: Example[];
  audit: AuditSink;
  logger: Logger;
  now: () => number;
  /** The server's own cgroup v2 id (hides its process tree from traces), or null: the ancestry filter. */
  serverCgroupId: bigint | null;
  /** This machine's system call names by number (read once, on first use). */
  syscallNames: () => Map<number, string>;
  /** The MCP session these tools serve (notifications to its client); absent in engine-only use. */
  session?: SessionChannel;
}

/** What a tool may tell its session's client besides its result. */
export interface SessionChannel {
  /** The caller of a request, remembered so events go only to a client allowed to see them. */
  sawPrincipal(principal: Principal): void;
  /** Executions this session starts are followed (lifecycle log messages, resource updates). */
  follow(executionId: string): void;
}

export type ToolRegistrar = (server: McpServer, context: ToolContext) => void;

/** What the SDK passes a handler besides its arguments: the caller's identity, its progress token, and a way to notify it. */
export interface RequestExtra {
  authInfo?: AuthInfo | undefined;
  _meta?: { progressToken?: string | number | undefined } | undefined;
  sendNotification?: ((notification: ServerNotification) => Promise<void>) | undefined;
}

/** A principal with no scope: what an authenticated request without one is taken as (fail closed). */
const NOBODY: Principal = Object.freeze({ id: "unidentified", scopes: new Set<Scope>(), remoteAddress: null });

/**
 * Who made this request. stdio requests carry no authInfo and are the local user; HTTP
 * authentication puts the Principal it decided in `authInfo.extra.principal`.
 */
export function principalOf(extra: RequestExtra | undefined): Principal {
  const authInfo = extra?.authInfo;
  if (authInfo === undefined) return LOCAL_PRINCIPAL;
  const principal = authInfo.extra?.principal as Principal | undefined;
  return principal && typeof principal.id === "string" && principal.scopes instanceof Set ? principal : NOBODY;
}

/**
 * Runs a handler for the calling principal once it holds the tool's scope, turning domain errors
 * into `isError` results and logging anything unexpected.
 */
export async function runTool(context: ToolContext, tool: string, extra: RequestExtra | undefined, body: (principal: Principal) => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    const principal = principalOf(extra);
    context.session?.sawPrincipal(principal);
    const scope = scopeFor(tool);
    if (!hasScope(principal, scope)) {
      throw new BpftraceMcpError("INSUFFICIENT_SCOPE", `${tool} needs the scope ${scope}, which this token does not have.`, {
        hint: `Ask the operator for a token (or OAuth grant) with ${scope}.`,
      });
    }
    return await body(principal);
  } catch (error) {
    if (error instanceof BpftraceMcpError) {
      context.logger.info({ tool, code: error.code }, "tool error");
      return toolError(error);
    }
    context.logger.error({ tool, err: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) }, "tool failed unexpectedly");
    return { content: [{ type: "text", text: `INTERNAL: ${tool} failed unexpectedly (${error instanceof Error ? error.message : String(error)}). This is a bug in bpftrace-mcp-server; the server keeps running.` }], isError: true };
  }
}
