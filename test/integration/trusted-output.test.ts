import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { afterEach, describe, expect, it } from "vitest";
import { connectInMemory } from "../helpers/in-memory-client.js";
import { z } from "zod";
import { trustToolOutput } from "../../src/tools/trusted-output.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A server whose two tools both return structuredContent that breaks their output schema. */
function serverWithWrongOutput(): McpServer {
  const server = new McpServer({ name: "wrong-output", version: "0" });
  for (const name of ["get_result", "other_tool"]) {
    server.registerTool(name, { description: name, inputSchema: {}, outputSchema: { count: z.number() } }, () => ({
      content: [{ type: "text", text: "x" }],
      structuredContent: { count: "not a number" },
    }));
  }
  return server;
}

/** A client that never lists tools, so it does not check outputs itself: what it gets is what the server let through. */
async function connect(server: McpServer): Promise<Client> {
  const client = await connectInMemory(server);
  closers.push(() => client.close());
  return client;
}

describe("trusted tool output", () => {
  it("finds the SDK's output check to skip (fails when an SDK upgrade moves it)", () => {
    expect(trustToolOutput(new McpServer({ name: "bare", version: "0" }), ["get_result"])).toBe(true);
  });

  it("skips the server-side check for the trusted tool only", async () => {
    const trusting = serverWithWrongOutput();
    trustToolOutput(trusting, ["get_result"]);
    const client = await connect(trusting);
    const trusted = await client.callTool({ name: "get_result", arguments: {} });
    expect(trusted.isError).toBeFalsy();
    expect(trusted.structuredContent).toEqual({ count: "not a number" });
    const checked = await client.callTool({ name: "other_tool", arguments: {} });
    expect(checked.isError).toBe(true);
    expect(JSON.stringify(checked.content)).toMatch(/Output validation error/);
  });

  it("leaves the SDK's check in place on a server that does not opt in", async () => {
    const client = await connect(serverWithWrongOutput());
    const result = await client.callTool({ name: "get_result", arguments: {} });
    expect(result.isError).toBe(true);
  });
});
