import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { AuditSink } from "../audit/audit-log.js";
import type { BpftraceHost } from "../bpftrace/host.js";
import type { ProbeCatalog } from "../bpftrace/probe-catalog.js";
import type { SystemInfo } from "../bpftrace/system-info.js";
import type { Config } from "../config.js";
import type { Example } from "../examples/catalog.js";
import { BpftraceMcpError, toolError } from "../errors.js";
import type { ExecutionRegistry } from "../executions/registry.js";
import type { Logger } from "../logger.js";

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
}

export type ToolRegistrar = (server: McpServer, context: ToolContext) => void;

/** Runs a handler, turning domain errors into `isError` results and logging anything unexpected. */
export async function runTool(context: ToolContext, tool: string, body: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof BpftraceMcpError) {
      context.logger.info({ tool, code: error.code }, "tool error");
      return toolError(error);
    }
    context.logger.error({ tool, err: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) }, "tool failed unexpectedly");
    return { content: [{ type: "text", text: `INTERNAL: ${tool} failed unexpectedly (${error instanceof Error ? error.message : String(error)}). This is a bug in bpftrace-mcp-server; the server keeps running.` }], isError: true };
  }
}
