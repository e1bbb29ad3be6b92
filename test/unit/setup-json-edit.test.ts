import { describe, expect, it } from "vitest";
import { JsonSyntaxError, parseJsonDocument, setAtPath } from "../../src/commands/setup/json-text.js";

const entry = { command: "npx", args: ["-y", "bpftrace-mcp-server"] };

function edit(text: string, path: (string | number)[], value: unknown, jsonc = true): string {
  return setAtPath(parseJsonDocument(text, { jsonc }), path, value);
}

function syntaxError(text: string, jsonc: boolean): JsonSyntaxError {
  try {
    parseJsonDocument(text, { jsonc });
  } catch (error) {
    if (error instanceof JsonSyntaxError) return error;
    throw error;
  }
  throw new Error("parsed without an error");
}

describe("setup's JSON edits write only the lines of the value that changes", () => {
  it("adds a member after the last one, with the file's indentation, leaving the other lines as they were", () => {
    const text = '{\n    "mcpServers": {\n        "fs": {"command": "x", "args": ["/home"]}\n    },\n    "theme": "dark"\n}\n';
    expect(edit(text, ["mcpServers", "bpftrace"], entry, false)).toBe(
      '{\n    "mcpServers": {\n        "fs": {"command": "x", "args": ["/home"]},\n        "bpftrace": {\n            "command": "npx",\n            "args": [\n                "-y",\n                "bpftrace-mcp-server"\n            ]\n        }\n    },\n    "theme": "dark"\n}\n',
    );
  });

  it("keeps a JSONC trailing comma style and leaves a comment that ends a line with its member", () => {
    const text = '{\n\t"servers": {\n\t\t"fs": { "command": "x", }, // the fs server\n\t},\n}\n';
    expect(edit(text, ["servers", "b"], { type: "stdio" })).toBe('{\n\t"servers": {\n\t\t"fs": { "command": "x", }, // the fs server\n\t\t"b": {\n\t\t\t"type": "stdio"\n\t\t},\n\t},\n}\n');
    const noComma = '{\n  "servers": {\n    "fs": 1 // note\n  }\n}';
    expect(edit(noComma, ["servers", "b"], 2)).toBe('{\n  "servers": {\n    "fs": 1, // note\n    "b": 2\n  }\n}');
  });

  it("fills an empty object, creates missing parents, and starts a new file", () => {
    expect(edit('{\n  "mcpServers": {}\n}\n', ["mcpServers", "b"], 1)).toBe('{\n  "mcpServers": {\n    "b": 1\n  }\n}\n');
    expect(edit('{\n  "numStartups": 3\n}\n', ["projects", "/home/u/p", "mcpServers", "b"], 1, false)).toBe(
      '{\n  "numStartups": 3,\n  "projects": {\n    "/home/u/p": {\n      "mcpServers": {\n        "b": 1\n      }\n    }\n  }\n}\n',
    );
    expect(edit("", ["servers", "b"], 1)).toBe('{\n  "servers": {\n    "b": 1\n  }\n}\n');
  });

  it("replaces an existing value in place, at its member's indentation", () => {
    const text = '{\n  "mcpServers": {\n    "b": { "command": "old" },\n    "c": 2\n  }\n}';
    expect(edit(text, ["mcpServers", "b"], { command: "new" })).toBe('{\n  "mcpServers": {\n    "b": {\n      "command": "new"\n    },\n    "c": 2\n  }\n}');
  });

  it.each([
    ["last member", '{\n  "mcpServers": {\n    "fs": {"command": "x"}\n  }\n}\n'],
    ["empty object", '{\n  "mcpServers": {}\n}\n'],
    ["JSONC with comments and trailing commas", '{\n\t// mine\n\t"mcpServers": {\n\t\t"fs": {"command": "x"}, // fs\n\t},\n}\n'],
    ["CRLF line endings", '{\r\n  "mcpServers": {\r\n    "fs": 1\r\n  }\r\n}\r\n'],
  ])("removing what it added gives back the original bytes (%s)", (_label, text) => {
    const added = edit(text, ["mcpServers", "bpftrace"], entry);
    expect(added).not.toBe(text);
    if (text.includes("\r\n")) expect(added.replaceAll("\r\n", "")).not.toContain("\n");
    expect(edit(added, ["mcpServers", "bpftrace"], undefined)).toBe(text);
  });

  it("removes a member from the middle together with its lines", () => {
    const text = '{\n  "s": {\n    "a": 1,\n    "b": {\n      "x": 2\n    },\n    "c": 3\n  }\n}\n';
    expect(edit(text, ["s", "b"], undefined)).toBe('{\n  "s": {\n    "a": 1,\n    "c": 3\n  }\n}\n');
  });

  it("appends to an array and replaces an item", () => {
    const text = '{\n  "inputs": [\n    { "id": "a" }\n  ]\n}\n';
    expect(edit(text, ["inputs", -1], { id: "b" })).toBe('{\n  "inputs": [\n    { "id": "a" },\n    {\n      "id": "b"\n    }\n  ]\n}\n');
    expect(edit(text, ["inputs", 0], { id: "z" })).toBe('{\n  "inputs": [\n    {\n      "id": "z"\n    }\n  ]\n}\n');
  });
});

describe("setup reads a config as its client does", () => {
  it("names the line and column of the first problem, in words", () => {
    const trailing = syntaxError('{\n  "a": 1,\n}\n', false);
    expect([trailing.line, trailing.column]).toEqual([3, 1]);
    expect(trailing.message).toContain("trailing comma");
    expect(trailing.lineText).toBe("}");
    const comment = syntaxError('{\n  /* x */ "a": 1\n}', false);
    expect([comment.line, comment.column, comment.message]).toEqual([2, 3, "a comment, which this client's JSON does not allow"]);
    const unclosed = syntaxError('{\n  "a": [1, 2\n}', true);
    expect(unclosed.line).toBe(3);
  });

  it("accepts comments and trailing commas only in JSONC, and a byte-order mark in both", () => {
    const jsonc = '{\n  // c\n  "a": [1, 2,],\n}';
    expect(parseJsonDocument(jsonc, { jsonc: true }).value).toEqual({ a: [1, 2] });
    expect(() => parseJsonDocument(jsonc, { jsonc: false })).toThrow(JsonSyntaxError);
    const withBom = parseJsonDocument('\uFEFF{"a": 1}', { jsonc: false });
    expect([withBom.bom, withBom.value]).toEqual(["\uFEFF", { a: 1 }]);
  });

  it("takes the file's indentation unit and line ending for what it writes", () => {
    expect(parseJsonDocument('{\n\t"a": 1\n}', { jsonc: false }).layout).toEqual({ unit: "\t", eol: "\n" });
    expect(parseJsonDocument('{\r\n    "a": 1\r\n}', { jsonc: false }).layout).toEqual({ unit: "    ", eol: "\r\n" });
    expect(parseJsonDocument("", { jsonc: false }).layout).toEqual({ unit: "  ", eol: "\n" });
  });
});
