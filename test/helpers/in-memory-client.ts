import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Principal } from "../../src/executions/principal.js";
import { createSessionServer, type Engine } from "../../src/server.js";

/** Connects an SDK client to `server` in-process; the caller closes it (client.close()). */
export async function connectInMemory(server: McpServer): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "test", version: "1" });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return client;
}

/**
 * Connects a client whose every message arrives with `authInfo`, as the HTTP transport delivers an
 * authenticated request: the server sees `principal` as the caller.
 */
export async function connectInMemoryAs(server: McpServer, principal: Principal): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const authInfo: AuthInfo = { token: "test-token", clientId: principal.id, scopes: [...principal.scopes], extra: { principal } };
  const send = clientSide.send.bind(clientSide);
  clientSide.send = (message, options) => send(message, { ...options, authInfo });
  const client = new Client({ name: "test", version: "1" });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return client;
}

/**
 * The engines and in-process sessions one test opens, closed after it (`closeAll` in afterEach):
 * `keep` an engine, `open` a session of its own on it (an McpServer per client, as HTTP gives),
 * as the stdio principal or as `who`, `end` an engine early.
 */
export function engineSessions(): {
  keep: (engine: Engine) => Engine;
  open: (engine: Engine, who?: Principal | "local") => Promise<Client>;
  end: (engine: Engine) => Promise<void>;
  closeAll: () => Promise<void>;
} {
  const engines: Engine[] = [];
  const clients: Client[] = [];
  return {
    keep: (engine) => {
      engines.push(engine);
      return engine;
    },
    open: async (engine, who = "local") => {
      const server = createSessionServer(engine);
      const client = who === "local" ? await connectInMemory(server) : await connectInMemoryAs(server, who);
      clients.push(client);
      return client;
    },
    // Ends one kept engine now (a server stopped mid-test, to be started again on its state).
    end: async (engine) => {
      engines.splice(engines.indexOf(engine), 1);
      await engine.cleanup(500);
    },
    closeAll: async () => {
      await Promise.all(clients.splice(0).map((client) => client.close()));
      await Promise.all(engines.splice(0).map((engine) => engine.cleanup(500)));
    },
  };
}

/** A tool call's result, errors included (the caller checks isError). */
export async function callTool(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** Every text block of a result, joined by newlines. */
export const resultText = (result: CallToolResult): string => result.content.map((block) => (block.type === "text" ? block.text : "")).join("\n");
