import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";

type RequestHandler = (request: unknown, extra: unknown) => unknown;

/**
 * Answers `tools/list` from the first answer. The SDK rebuilds every tool's JSON Schema from zod on
 * each call (about 4 ms of CPU for our ten tools, measured), and our tools never change after
 * start-up. It reaches the SDK's handler table, which is not public API: if that table is not there
 * (a future SDK), the SDK's own uncached handler stays in place.
 */
export function cacheToolList(server: McpServer): boolean {
  const handlers = (server.server as unknown as { _requestHandlers?: unknown })._requestHandlers;
  if (!(handlers instanceof Map)) return false;
  const original = handlers.get("tools/list") as RequestHandler | undefined;
  if (typeof original !== "function") return false;
  let answer: Promise<unknown> | null = null;
  const cached: RequestHandler = (request, extra) => {
    answer ??= Promise.resolve(original(request, extra)).catch((error: unknown) => {
      // A failed listing is not remembered.
      answer = null;
      throw error;
    });
    return answer;
  };
  handlers.set("tools/list", cached);
  return true;
}
