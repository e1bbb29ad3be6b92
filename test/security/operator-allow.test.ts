// BPFTRACE_MCP_ALLOW is the operator's loosening, never the assistant's: it re-enables exactly the
// rule it names, and only when set. The cat run also proves the leak checks elsewhere would see a leak.
import { rmSync } from "node:fs";
import { afterAll, expect, it } from "vitest";
import { describeReal } from "../helpers/real-bpftrace.js";
import { startServer, textOf } from "../helpers/server-process.js";
import { followToEnd, plantSecret, structuredOf } from "./support.js";

describeReal("operator loosening with BPFTRACE_MCP_ALLOW", () => {
  const secret = plantSecret();

  afterAll(() => {
    rmSync(secret.directory, { recursive: true, force: true });
  });

  // Without the flag, and with a flag that names something else, cat() stays refused.
  it.each([
    ["by default", {}],
    ["with BPFTRACE_MCP_ALLOW=include", { BPFTRACE_MCP_ALLOW: "include" }],
  ])("refuses cat() %s", async (_case, env: Record<string, string>) => {
    const server = await startServer({ env });
    try {
      const result = await server.call("exec_program", { program: `BEGIN { cat("${secret.file}"); exit(); }` });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/^POLICY_REFUSED: [\s\S]*`cat\(`/);
    } finally {
      await server.close();
    }
  });

  it("BPFTRACE_MCP_ALLOW=cat lets cat() read a file (so a real leak would be seen), and nothing else", async () => {
    const server = await startServer({ env: { BPFTRACE_MCP_ALLOW: "cat" } });
    try {
      const program = `BEGIN { cat("${secret.file}"); exit(); }`;
      const validated = await server.call("validate_program", { program });
      expect(structuredOf(validated), textOf(validated)).toMatchObject({ valid: true, policy: { allowed: true } });
      const started = await server.call("exec_program", { program, timeout: 10 });
      expect(started.isError, textOf(started)).toBeFalsy();
      const { status, lines } = await followToEnd(server, structuredOf(started).execution_id as string);
      expect(status).toBe("completed");
      expect(lines.map((line) => line.text)).toContain(secret.token);

      const stillRefused = {
        '#include "file"': `#include "${secret.file}"\nBEGIN { exit(); }`,
        "#include </abs/path>": `#include <${secret.header}>\nBEGIN { exit(); }`,
        "system()": `BEGIN { system("cat ${secret.file}"); exit(); }`,
        "signal()": 'BEGIN { signal("KILL"); }',
        "a config block": "config = { unsafe = 1 }\nBEGIN { exit(); }",
      };
      for (const [construct, refused] of Object.entries(stillRefused)) {
        const result = await server.call("exec_program", { program: refused });
        expect(result.isError, construct).toBe(true);
        expect(textOf(result).startsWith("POLICY_REFUSED: "), construct).toBe(true);
        expect(textOf(result), construct).not.toContain(secret.token);
      }
    } finally {
      await server.close();
    }
  });


  it("refuses to start on an allow flag it does not know, rather than ignore it", async () => {
    await expect(startServer({ env: { BPFTRACE_MCP_ALLOW: "cat,unsafe" } })).rejects.toThrow();
  });
});
