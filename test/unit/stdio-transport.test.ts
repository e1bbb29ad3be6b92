import { PassThrough } from "node:stream";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { leadingId, StdioTransport } from "../../src/transports/stdio.js";

function harness(maxMessageBytes: number): { stdin: PassThrough; messages: JSONRPCMessage[]; errors: Error[]; written: () => unknown[]; oversized: number[] } {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  let output = "";
  stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const messages: JSONRPCMessage[] = [];
  const errors: Error[] = [];
  const oversized: number[] = [];
  const transport = new StdioTransport({ maxMessageBytes, stdin, stdout, onOversized: (bytes) => oversized.push(bytes) });
  transport.onmessage = (message) => messages.push(message);
  transport.onerror = (error) => errors.push(error);
  void transport.start();
  return { stdin, messages, errors, oversized, written: () => output.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as unknown) };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("StdioTransport", () => {
  it("reads newline-delimited messages split anywhere across chunks, with CRLF endings", async () => {
    const { stdin, messages } = harness(1024);
    const text = '{"jsonrpc":"2.0","id":1,"method":"ping"}\r\n{"jsonrpc":"2.0","method":"notifications/initialized"}\n';
    for (let at = 0; at < text.length; at += 7) stdin.write(Buffer.from(text.slice(at, at + 7)));
    await tick();
    expect(messages).toEqual([
      { jsonrpc: "2.0", id: 1, method: "ping" },
      { jsonrpc: "2.0", method: "notifications/initialized" },
    ]);
  });

  it("reports a line that is not JSON-RPC without answering it, and reads on", async () => {
    const { stdin, messages, errors, written } = harness(1024);
    stdin.write('{"jsonrpc":"2.0","id":1,"meth\n{"jsonrpc":"2.0","id":2,"method":"ping"}\n');
    await tick();
    expect(errors).toHaveLength(1);
    expect(written()).toEqual([]);
    expect(messages).toEqual([{ jsonrpc: "2.0", id: 2, method: "ping" }]);
  });

  it("skips a line over the cap without buffering it, answers -32600 with its id, and reads the next one", async () => {
    const { stdin, messages, written, oversized } = harness(1024);
    const huge = `{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"pad":"${"x".repeat(5000)}"}}`;
    for (let at = 0; at < huge.length; at += 300) stdin.write(huge.slice(at, at + 300));
    stdin.write('\n{"jsonrpc":"2.0","id":3,"method":"ping"}\n');
    await tick();
    expect(written()).toEqual([{ jsonrpc: "2.0", id: "big", error: { code: -32600, message: expect.stringContaining(`Message too large: ${huge.length} bytes`) as unknown, data: { bytes: huge.length, limit: 1024 } } }]);
    expect(oversized).toEqual([huge.length]);
    expect(messages).toEqual([{ jsonrpc: "2.0", id: 3, method: "ping" }]);
  });

  it("accepts a line of exactly the cap", async () => {
    const { stdin, messages } = harness(64);
    const line = `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"p":"${"a".repeat(10)}"}}`;
    const exact = line.replace("a".repeat(10), "a".repeat(10 + 64 - line.length));
    expect(exact.length).toBe(64);
    stdin.write(`${exact}\n`);
    await tick();
    expect(messages).toHaveLength(1);
  });
});

describe("leadingId", () => {
  it("finds an id only where it is certainly the top-level one", () => {
    expect(leadingId(Buffer.from('{"jsonrpc":"2.0","id":"a\\"b","method":'))).toBe('a"b');
    expect(leadingId(Buffer.from('{ "id" : 42 , "jsonrpc":"2.0"'))).toBe(42);
    expect(leadingId(Buffer.from('{"method":"x","id":1'))).toBeNull();
    expect(leadingId(Buffer.from('{"jsonrpc":"2.0","params":{"id":1}'))).toBeNull();
    expect(leadingId(Buffer.from("not json"))).toBeNull();
  });
});
