import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";

type RequestHandler = (request: unknown, extra: unknown) => unknown;

// What a client assumes when an annotation is absent (MCP spec): stating these costs every turn.
const ANNOTATION_DEFAULTS: Readonly<Record<string, unknown>> = { destructiveHint: true, idempotentHint: false, openWorldHint: true };
// What an argument must look like (an id's format, a name's characters, a number's range): the
// server checks it and its error says what to change, so the listing need not spell it out.
const VALIDATION_ONLY = new Set(["pattern", "minLength", "maxLength", "propertyNames", "minimum", "maximum"]);

/**
 * The listing as sent: what the SDK generates, less what tells a client nothing, since an assistant
 * pays for every character of it on every turn (tools/list plus instructions: at most 8,000, a test
 * pins it). Dropped: `$schema` (the draft MCP assumes); `additionalProperties` (results are checked
 * against the fields declared, and carry more); what only validation needs (patterns, lengths,
 * numeric ranges: the server checks them, and its error names the bound; descriptions give the
 * defaults and limits worth knowing); `required` of output schemas (the fields declared are always
 * there); empty `items` schemas; `execution.taskSupport: "forbidden"` (the default); annotations
 * equal to their defaults (readOnlyHint always stays; destructive and idempotent hints mean nothing
 * for a read-only tool).
 */
export function compactToolListing<T>(listing: T): T {
  const result = listing as { tools?: Record<string, unknown>[] };
  if (!Array.isArray(result.tools)) return listing;
  const tools = result.tools.map((tool) => {
    const compact: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(tool)) {
      if (key === "execution" && isForbiddenTasks(value)) continue;
      if (key === "inputSchema") compact[key] = compactSchema(value);
      else if (key === "outputSchema") compact[key] = withoutRequired(compactSchema(value));
      else if (key === "annotations") compact[key] = compactAnnotations(value as Record<string, unknown>);
      else compact[key] = value;
    }
    return compact;
  });
  return { ...result, tools } as T;
}

function isForbiddenTasks(value: unknown): boolean {
  const execution = value as { taskSupport?: unknown } | null;
  return execution !== null && typeof execution === "object" && Object.keys(execution).length === 1 && execution.taskSupport === "forbidden";
}

function compactAnnotations(annotations: Record<string, unknown>): Record<string, unknown> {
  const readOnly = annotations.readOnlyHint === true;
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(annotations)) {
    if (key !== "readOnlyHint" && ANNOTATION_DEFAULTS[key] === value) continue;
    if (readOnly && (key === "destructiveHint" || key === "idempotentHint")) continue;
    kept[key] = value;
  }
  return kept;
}

function withoutRequired(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutRequired);
  if (schema === null || typeof schema !== "object") return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([key]) => key !== "required")
      .map(([key, value]) => [key, key === "properties" ? Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([name, property]) => [name, withoutRequired(property)])) : withoutRequired(value)]),
  );
}

function compactSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(compactSchema);
  if (schema === null || typeof schema !== "object") return schema;
  const compact: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "$schema" || key === "additionalProperties" || VALIDATION_ONLY.has(key)) continue;
    if (key === "items" && value !== null && typeof value === "object" && Object.keys(value).length === 0) continue;
    // A property named like a keyword is a field, not a keyword: only the schema's own keys are dropped.
    compact[key] = key === "properties" ? Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([name, property]) => [name, compactSchema(property)])) : compactSchema(value);
  }
  return compact;
}

/**
 * Answers `tools/list` from the first answer, compacted (compactToolListing). The SDK rebuilds every
 * tool's JSON Schema from zod on each call (about 4 ms of CPU for our ten tools, measured), and our
 * tools never change after start-up. It reaches the SDK's handler table, which is not public API: if
 * that table is not there (a future SDK), the SDK's own uncached handler stays in place.
 */
export function cacheToolList(server: McpServer): boolean {
  const handlers = (server.server as unknown as { _requestHandlers?: unknown })._requestHandlers;
  if (!(handlers instanceof Map)) return false;
  const original = handlers.get("tools/list") as RequestHandler | undefined;
  if (typeof original !== "function") return false;
  let answer: Promise<unknown> | null = null;
  const cached: RequestHandler = (request, extra) => {
    answer ??= Promise.resolve(original(request, extra))
      .then(compactToolListing)
      .catch((error: unknown) => {
        // A failed listing is not remembered.
        answer = null;
        throw error;
      });
    return answer;
  };
  handlers.set("tools/list", cached);
  return true;
}
