import { z } from "zod";
import { BpftraceMcpError, toolResult } from "../errors.js";
import { hasScope } from "../executions/principal.js";
import type { SavedSession } from "../executions/store.js";
import { Sessions } from "../sessions/sessions.js";
import { comparisonOf, comparisonText } from "./compare-executions.js";
import { runTool, type ToolRegistrar } from "./context.js";

// A run answers within the minute an MCP client waits; runs still going then are listed, to compare later.
const RUN_WAIT_MS = 50_000;
const PREVIEW_CHARS = 60;
const MAX_NOTE_CHARS = 1_000;
const MAX_ITEMS = 32;

/** sessions: save a set of runs under a name, list them, run one again and compare, export and import. */
export const registerSessionsTool: ToolRegistrar = (server, context) => {
  const sessions = new Sessions(context.registry, context.config, context.now);
  server.registerTool(
    "sessions",
    {
      title: "Saved sessions",
      description:
        "Saved run sets. run: rerun all, compare with last. export/import: <state dir>/sessions/<name>.json",
      inputSchema: {
        action: z.enum(["save", "list", "run", "delete", "export", "import"]).describe("what to do"),
        name: z.string().optional().describe("session name"),
        execution_ids: z.array(z.string()).optional().describe("save: runs to keep"),
        note: z.string().optional().describe("save: a note"),
        file: z.string().optional().describe("import: file name"),
      },
      outputSchema: z.looseObject({}),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async ({ action, name, execution_ids, note, file }, extra) =>
      runTool(context, "sessions", extra, async (principal) => {
        const needName = (): string => {
          if (name === undefined) throw new BpftraceMcpError("INVALID_ARGUMENT", `action=${action} needs a name.`, { hint: "Pass name (sessions action=list shows yours)." });
          return name;
        };
        switch (action) {
          case "save": {
            if (!execution_ids || execution_ids.length === 0 || execution_ids.length > MAX_ITEMS) throw new BpftraceMcpError("INVALID_ARGUMENT", `action=save needs 1-${MAX_ITEMS} execution_ids.`, { hint: "Pass the ids of the runs to keep (list_executions shows them)." });
            const session = await sessions.save(principal, needName(), execution_ids, note === undefined ? null : note.slice(0, MAX_NOTE_CHARS));
            return toolResult(`Saved session ${session.name}: ${session.items.length} program(s). Run it again later with action=run.`, { action, session: sessionView(session) });
          }
          case "list": {
            const all = await sessions.list(principal, hasScope(principal, "bpftrace:admin"));
            const text = all.length === 0 ? "No saved sessions. Save runs with action=save." : all.map((session) => `- ${session.name}: ${session.items.length} program(s), run ${session.runs} time(s), updated ${new Date(session.updatedAt).toISOString()}${session.note ? `; ${session.note}` : ""}`).join("\n");
            return toolResult(text, { action, sessions: all.map(sessionView) });
          }
          case "delete": {
            await sessions.delete(principal, needName());
            return toolResult(`Deleted session ${needName()} (its runs stay until retention removes them).`, { action, name: needName() });
          }
          case "export": {
            const path = await sessions.export(principal, needName());
            return toolResult(`Exported ${needName()} to ${path}. Another server imports it from its own <state dir>/sessions/ with action=import.`, { action, file: path });
          }
          case "import": {
            if (file === undefined) throw new BpftraceMcpError("INVALID_ARGUMENT", "action=import needs file.", { hint: "Pass the file's name in <state dir>/sessions/, e.g. my-session.json." });
            const session = await sessions.import(principal, file, name);
            return toolResult(`Imported ${session.name}: ${session.items.length} program(s), results stored as ${session.items.map((item) => item.executionId ?? "none").join(", ")}. Run it with action=run.`, { action, session: sessionView(session) });
          }
          case "run": {
            const { session, items } = await sessions.run(principal, needName(), RUN_WAIT_MS);
            const views = items.map((item) => ({
              program: item.program.slice(0, PREVIEW_CHARS),
              before: item.before?.id ?? null,
              after: item.after?.id ?? null,
              status: item.after?.status ?? null,
              error: item.error,
              comparison: item.before && item.after?.finished ? comparisonOf(item.before, item.after) : null,
            }));
            const complete = items.every((item) => item.error !== null || item.after?.finished);
            const text = [
              `Ran ${session.name} again (run ${session.runs}):`,
              ...views.flatMap((view, index) => [
                `${index + 1}. ${view.program.replace(/\s+/g, " ")}: ${view.error ?? `${view.before ?? "no earlier run"} → ${view.after ?? "-"} (${view.status ?? "not started"})`}`,
                ...(view.comparison ? comparisonText(view.comparison).split("\n").map((line) => `   ${line}`) : []),
              ]),
              ...(complete ? [] : ["Some runs are still going: compare them later with compare_executions."]),
            ].join("\n");
            return toolResult(text, { action, session: session.name, complete, items: views });
          }
        }
      }),
  );
};

function sessionView(session: SavedSession): Record<string, unknown> {
  return {
    name: session.name,
    owner: session.ownerId,
    note: session.note,
    runs: session.runs,
    updated_at: new Date(session.updatedAt).toISOString(),
    items: session.items.map((item) => ({ program: item.program.slice(0, PREVIEW_CHARS), timeout_seconds: item.timeoutSeconds, execution_id: item.executionId })),
  };
}
