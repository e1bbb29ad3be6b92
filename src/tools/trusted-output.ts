import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";

type OutputValidator = (tool: unknown, result: unknown, toolName: string) => Promise<void>;

/**
 * Skips the SDK's zod check of these tools' `structuredContent`. For get_result it re-parses every
 * returned line (1,000 by default) into fresh objects on each call: 0.4–0.6 ms of the call's
 * 1.6–1.8 ms of server CPU (idle server), spent while traces may be flooding. The result is built
 * by typed code, and its shape is checked where it matters: by the client against the advertised
 * output schema (the SDK's Client does so in callTool) and by our tests. It replaces a method that
 * is not public API: if that method is not there (a future SDK), the SDK keeps checking, and a test
 * fails to say so.
 */
export function trustToolOutput(server: McpServer, toolNames: readonly string[]): boolean {
  const target = server as unknown as { validateToolOutput?: OutputValidator };
  const original = target.validateToolOutput;
  if (typeof original !== "function") return false;
  const trusted = new Set(toolNames);
  target.validateToolOutput = function (this: unknown, tool, result, toolName) {
    return trusted.has(toolName) ? Promise.resolve() : original.call(this, tool, result, toolName);
  };
  return true;
}
