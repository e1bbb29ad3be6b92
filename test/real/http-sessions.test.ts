// The real bpftrace behind Streamable HTTP: many sessions of several principals tracing at once,
// each polling its own execution to the end and getting exactly its own output.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startHttpProcess, type HttpProcess } from "../helpers/http-process.js";
import { callTool, connectHttp } from "../helpers/http-server.js";
import { describeReal } from "../helpers/real-bpftrace.js";

const SESSIONS = 50;
const PRINCIPALS = ["p0", "p1", "p2", "p3", "p4"];
const TICKS = 3;

interface Page {
  status: string;
  lines: string[];
  next_offset: number;
}

describeReal("Streamable HTTP with the real bpftrace: 50 sessions of 5 principals trace and poll at once", () => {
  let server: HttpProcess;
  const clients: Client[] = [];

  beforeAll(async () => {
    server = await startHttpProcess({
      tokens: Object.fromEntries(PRINCIPALS.map((name) => [name, "bpftrace:trace"])),
      env: { ...(process.env.BPFTRACE_PATH ? { BPFTRACE_PATH: process.env.BPFTRACE_PATH } : {}), BPFTRACE_MCP_MAX_CONCURRENT: "12", BPFTRACE_MCP_HTTP_RATE_LIMIT: "200" },
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await server?.close();
  });

  it("gives every session its own trace's complete output, and each principal only its own executions", async () => {
    const sessions = await Promise.all(
      Array.from({ length: SESSIONS }, async (_, index) => {
        const principal = PRINCIPALS[index % PRINCIPALS.length] ?? "p0";
        const client = await connectHttp(server.url, server.tokens[principal] ?? "");
        clients.push(client);
        return { index, principal, client };
      }),
    );
    const outcomes = await Promise.all(
      sessions.map(async ({ index, principal, client }) => {
        const marker = `session-${index}-of-${principal}`;
        const program = `BEGIN { printf("${marker}\\n"); } interval:ms:100 { @ticks = @ticks + 1; printf("${marker} tick %d\\n", @ticks); if (@ticks >= ${TICKS}) { exit(); } }`;
        // Twelve traces run at once; the others wait for a slot, as a client told TOO_MANY_EXECUTIONS would.
        let started = await callTool(client, "exec_program", { program, timeout: 30 });
        for (let attempt = 0; started.isError && JSON.stringify(started).includes("TOO_MANY_EXECUTIONS") && attempt < 600; attempt += 1) {
          await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 200));
          started = await callTool(client, "exec_program", { program, timeout: 30 });
        }
        expect(started.isError, JSON.stringify(started).slice(0, 400)).toBeFalsy();
        const executionId = (started.structuredContent as { execution_id: string }).execution_id;
        const lines: string[] = [];
        let offset = 0;
        let status = "running";
        for (let polls = 0; status === "running" && polls < 100; polls += 1) {
          const page = (await callTool(client, "get_result", { execution_id: executionId, offset, wait_seconds: 2, stream: "stdout", raw_maps: true })).structuredContent as unknown as Page;
          lines.push(...page.lines);
          offset = page.next_offset;
          status = page.status;
        }
        return { index, principal, marker, executionId, status, lines };
      }),
    );
    for (const outcome of outcomes) {
      expect(outcome.status, `session ${outcome.index}`).toBe("completed");
      const ownLines = outcome.lines.filter((line) => line !== "" && !line.startsWith("@"));
      // exit() takes effect a tick or two late: at least TICKS ticks, in order, and nothing of anyone else's.
      const ticks = ownLines.length - 1;
      expect(ticks, `session ${outcome.index}: ${ownLines.join(" | ")}`).toBeGreaterThanOrEqual(TICKS);
      expect(ownLines, `session ${outcome.index}: ${JSON.stringify(outcome.lines)}`).toEqual([outcome.marker, ...Array.from({ length: ticks }, (_, tick) => `${outcome.marker} tick ${tick + 1}`)]);
    }
    // Each principal lists exactly the executions its own sessions started.
    for (const principal of PRINCIPALS) {
      const session = sessions.find((candidate) => candidate.principal === principal);
      const listed = (await callTool(session?.client as Client, "list_executions")).structuredContent as { executions: { execution_id: string }[] };
      const expected = outcomes.filter((outcome) => outcome.principal === principal).map((outcome) => outcome.executionId);
      expect(listed.executions.map((run) => run.execution_id).sort()).toEqual(expected.sort());
    }
  }, 300_000);
});
