import { ResourceTemplate, type McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Example } from "./catalog.js";

const URI_PREFIX = "bpftrace://examples/";

export function exampleUri(name: string): string {
  return `${URI_PREFIX}${name}`;
}

/** Each curated program as an MCP resource, listed through the `bpftrace://examples/{name}` template. */
export function registerExampleResources(server: McpServer, examples: readonly Example[]): void {
  const byName = new Map(examples.map((example) => [example.name, example]));
  server.registerResource(
    "example",
    new ResourceTemplate(`${URI_PREFIX}{name}`, {
      list: () => ({
        resources: examples.map((example) => ({
          uri: exampleUri(example.name),
          name: example.name,
          title: example.title,
          description: example.question,
          mimeType: "text/plain",
        })),
      }),
      complete: { name: (prefix) => examples.map((example) => example.name).filter((name) => name.startsWith(prefix)) },
    }),
    { title: "bpftrace example", description: "A curated, tested bpftrace program with a header saying what it answers and how to read its output.", mimeType: "text/plain" },
    (uri, variables) => {
      const name = Array.isArray(variables.name) ? variables.name[0] : variables.name;
      const example = name === undefined ? undefined : byName.get(name);
      if (!example) throw new Error(`Unknown example '${String(name)}': list resources or call list_examples for the names.`);
      return { contents: [{ uri: uri.href, mimeType: "text/plain", text: example.program }] };
    },
  );
}
