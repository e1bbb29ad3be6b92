import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../helpers/server-process.js";

const PASSWORD = "pw-Environ-3c81f0-erased";

let server: RunningServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

// A client that passes BPFTRACE_PASSWD in the server's environment (the MCP Bundle does, from Claude
// Desktop's credential store) must not leave it readable in /proc/PID/environ for the server's life.
describe("BPFTRACE_PASSWD given in the environment", () => {
  it("is gone from the server's /proc/PID/environ once it answers, while other variables stay", async () => {
    server = await startServer({ env: { BPFTRACE_PASSWD: PASSWORD, MARKER_KEPT: "still-here" } });
    const environ = readFileSync(`/proc/${server.pid}/environ`, "latin1");
    expect(environ).not.toContain(PASSWORD);
    expect(environ).toContain("MARKER_KEPT=still-here");
    expect(environ).toContain("BPFTRACE_PASSWD=");
    const { tools } = await server.client.listTools();
    expect(tools.length).toBeGreaterThan(0);
    expect(server.stderr()).not.toContain("could not be erased");
    expect(server.stderr()).not.toContain(PASSWORD);
  });
});
