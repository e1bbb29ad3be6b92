import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { afterEach, describe, expect, it } from "vitest";
import { connectInMemory } from "../helpers/in-memory-client.js";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { createServer } from "../../src/server.js";
import { TOOL_REGISTRARS } from "../../src/tools/index.js";
import { cacheToolList } from "../../src/tools/tool-list-cache.js";

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

  it("answers every call exactly as the SDK's own handler does", async () => {
    const { server, context, cleanup } = createServer({ config, logger });
    closers.push(() => cleanup(100));
    // The same tools on a server without the cache.
    const uncached = new McpServer({ name: "uncached", version: "0" });
    for (const register of TOOL_REGISTRARS) register(uncached, context);
    const cachedClient = await connect(server);
    const uncachedClient = await connect(uncached);
    const expected = await uncachedClient.listTools();
    expect(expected.tools).toHaveLength(TOOL_REGISTRARS.length);
    for (let call = 0; call < 3; call += 1) expect(await cachedClient.listTools()).toEqual(expected);
  });
});
