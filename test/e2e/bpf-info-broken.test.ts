import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, textOf, type RunningServer } from "../helpers/server-process.js";

describe("bpf_info on a machine that cannot trace", () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ env: { BPFTRACE_PATH: "/nonexistent/bpftrace" } });
  });

  afterAll(async () => {
    await server?.close();
  });

  it("explains why with the doctor's failing checks and their fixes, and the server stays up", async () => {
    const result = await server.call("bpf_info");
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toMatch(/^BPFTRACE_NOT_FOUND: /);
    expect(text).toContain("Machine checks:");
    expect(text).toMatch(/\[fail\] bpftrace: .*not found.*fix: Install it/);
    const again = await server.call("list_executions");
    expect(again.isError).toBeFalsy();
  });
});
