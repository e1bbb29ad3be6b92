import { z } from "zod";
import { toolResult } from "../errors.js";
import { MAX_VERBOSE_PROBES } from "../bpftrace/probe-catalog.js";
import { runTool, type ToolRegistrar } from "./context.js";

const DEFAULT_LIMIT = 500;
const MAX_LIMIT = 10_000;

/** list_probes: search this machine's probes; with verbose, their arguments. */
export const registerListProbesTool: ToolRegistrar = (server, context) => {
  server.registerTool(
    "list_probes",
    {
      title: "Find probes",
      description: `Search probes by glob ('tracepoint:syscalls:*open*') or word; verbose adds arguments (up to ${MAX_VERBOSE_PROBES} probes).`,
      inputSchema: {
        filter: z.string().optional().describe("Glob or word"),
        limit: z.number().int("limit must be a whole number").min(1, "limit must be at least 1").max(MAX_LIMIT, `limit must be at most ${MAX_LIMIT}`).optional().describe(`Default ${DEFAULT_LIMIT}`),
        offset: z.number().int("offset must be a whole number").min(0, "offset must be 0 or more").optional().describe("Skip N"),
        verbose: z.boolean().optional().describe("Add arguments"),
      },
      outputSchema: z.looseObject({ probes: z.array(z.string()), count: z.number(), truncated: z.boolean() }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    },
    async ({ filter, limit = DEFAULT_LIMIT, offset = 0, verbose = false }, extra) =>
      runTool(context, "list_probes", extra, async () => {
        const trimmed = filter?.trim() || undefined;
        const listing = await context.probes.list(trimmed);
        const page = listing.probes.slice(offset, offset + limit);
        const truncated = offset + page.length < listing.probes.length;
        let details: { probe: string; args: { type: string; name: string }[] }[] | null = null;
        let note: string | null = null;
        if (verbose) {
          if (listing.probes.length > MAX_VERBOSE_PROBES) {
            note = `${listing.probes.length} probes match: narrow the filter to ${MAX_VERBOSE_PROBES} or fewer to see arguments.`;
          } else if (listing.probes.length > 0 && trimmed) {
            details = (await context.probes.describe(trimmed, listing.probes)).map(({ probe, args }) => ({ probe, args }));
          } else {
            details = [];
          }
        }
        if (listing.probes.length === 0) note = "No probe matches. Try a wider glob (e.g. '*openat*') or check the provider name (tracepoint, kprobe, uprobe, ...).";
        const structured = { probes: page, count: listing.probes.length, offset, truncated, details, note };
        return toolResult(renderText(structured), structured);
      }),
  );
};

function renderText(result: { probes: string[]; count: number; offset: number; truncated: boolean; details: { probe: string; args: { type: string; name: string }[] }[] | null; note: string | null }): string {
  const out = [`${result.count} probe(s) match; showing ${result.probes.length} from offset ${result.offset}.`];
  if (result.details) {
    for (const detail of result.details) {
      out.push(detail.probe);
      for (const arg of detail.args) out.push(`    ${arg.type} ${arg.name}`);
    }
  } else {
    out.push(...result.probes);
  }
  if (result.truncated) out.push(`… truncated: narrow the filter or pass offset ${result.offset + result.probes.length}.`);
  if (result.note) out.push(result.note);
  return out.join("\n");
}
