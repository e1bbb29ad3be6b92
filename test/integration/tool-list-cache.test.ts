import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { afterEach, describe, expect, it } from "vitest";
import { connectInMemory } from "../helpers/in-memory-client.js";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { createServer } from "../../src/server.js";
import { TOOL_REGISTRARS } from "../../src/tools/index.js";
import { cacheToolList, compactToolListing } from "../../src/tools/tool-list-cache.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function connect(server: McpServer): Promise<Client> {
  const client = await connectInMemory(server);
  closers.push(() => client.close());
  return client;
}

describe("the cached tools/list", () => {
  const config = loadConfig({ BPFTRACE_PATH: "/nonexistent/bpftrace", BPFTRACE_MCP_AUDIT_LOG: "off" });
  const logger = createLogger("silent");

  it("finds the SDK's handler to cache (fails when an SDK upgrade moves it)", () => {
    const { context, cleanup } = createServer({ config, logger });
    closers.push(() => cleanup(100));
    const bare = new McpServer({ name: "bare", version: "0" });
    for (const register of TOOL_REGISTRARS) register(bare, context);
    expect(cacheToolList(bare)).toBe(true);
  });

  it("answers every call with the SDK's own listing, compacted (what only validation needs left out)", async () => {
    const { server, context, cleanup } = createServer({ config, logger });
    closers.push(() => cleanup(100));
    // The same tools on a server without the cache.
    const uncached = new McpServer({ name: "uncached", version: "0" });
    for (const register of TOOL_REGISTRARS) register(uncached, context);
    const cachedClient = await connect(server);
    const uncachedClient = await connect(uncached);
    const expected = compactToolListing(await uncachedClient.listTools());
    expect(expected.tools).toHaveLength(TOOL_REGISTRARS.length);
    for (let call = 0; call < 3; call += 1) expect(await cachedClient.listTools()).toEqual(expected);
  });

  it("leaves out of the listing only what no client needs: the fields, types, enums and descriptions stay", async () => {
    const { context, cleanup } = createServer({ config, logger });
    closers.push(() => cleanup(100));
    const uncached = new McpServer({ name: "uncached", version: "0" });
    for (const register of TOOL_REGISTRARS) register(uncached, context);
    const listing = await (await connect(uncached)).listTools();
    const compact = compactToolListing(listing);
    const getResult = compact.tools.find((tool) => tool.name === "get_result");
    expect(getResult?.inputSchema.properties?.until).toEqual({ description: expect.any(String), type: "string", enum: ["output", "quiet", "end"] });
    expect(getResult?.inputSchema.required).toEqual(["execution_id"]);
    expect(getResult?.annotations).toEqual({ readOnlyHint: true });
    expect(compact.tools.find((tool) => tool.name === "exec_program")?.annotations).toEqual({ readOnlyHint: false, destructiveHint: false });
    const text = JSON.stringify(compact);
    for (const dropped of ['"$schema"', '"additionalProperties"', '"pattern"', '"maximum"', '"taskSupport"']) expect(text).not.toContain(dropped);
    // Every property of every tool still there.
    for (const [index, tool] of listing.tools.entries()) {
      expect(Object.keys(compact.tools[index]?.inputSchema.properties ?? {})).toEqual(Object.keys(tool.inputSchema.properties ?? {}));
      expect(Object.keys(compact.tools[index]?.outputSchema?.properties ?? {})).toEqual(Object.keys(tool.outputSchema?.properties ?? {}));
    }
  });
});
