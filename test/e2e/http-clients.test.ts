// Real MCP clients against `serve --http`: Claude Code's `claude mcp add --transport http` with a
// bearer header, then `claude mcp get` reporting Connected; and the MCP Inspector's CLI listing the
// tools over HTTP. The clients come from .ci/http-clients.sh (a cache outside the repo): skipped
// with the reason when it is absent, required in CI.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { startHttpProcess, type HttpProcess } from "../helpers/http-process.js";

const CACHE = `${process.env.BPFTRACE_MCP_CI_CACHE ?? "/var/cache/bpftrace-mcp-ci"}/http-clients/node_modules/.bin`;
const CLAUDE = join(CACHE, "claude");
const INSPECTOR = join(CACHE, "mcp-inspector");
const available = existsSync(CLAUDE) && existsSync(INSPECTOR);

function describeClients(name: string, body: () => void): void {
  if (available) describe(name, body);
  else if (process.env.CI) {
    describe(name, () => {
      throw new Error(`the real clients are required in CI but missing: run bash .ci/http-clients.sh install (looked in ${CACHE})`);
    });
  } else describe.skip(`${name} (skipped: real clients not installed; bash .ci/http-clients.sh install)`, body);
}

describeClients("real MCP clients over Streamable HTTP with a bearer token", () => {
  let server: HttpProcess;
  let home: string;

  beforeAll(async () => {
    server = await startHttpProcess({ tokens: { client: "bpftrace:read,bpftrace:trace" }, env: { BPFTRACE_PATH: installFakeBpftrace() } });
    home = mkdtempSync(join(tmpdir(), "bpfmcp-client-home-"));
  });

  afterAll(async () => {
    await server?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const run = (command: string, args: string[]) =>
    spawnSync(command, args, { cwd: home, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, DISABLE_AUTOUPDATER: "1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" }, encoding: "utf8", timeout: 90_000 });

  it("Claude Code: claude mcp add --transport http with an Authorization header, then claude mcp get says Connected", () => {
    const header = `Authorization: Bearer ${server.tokens.client ?? ""}`;
    const added = run(CLAUDE, ["mcp", "add", "--transport", "http", "bpftrace", server.url, "--header", header]);
    expect(added.status, added.stderr).toBe(0);
    const got = run(CLAUDE, ["mcp", "get", "bpftrace"]);
    expect(got.status, got.stderr).toBe(0);
    expect(got.stdout).toMatch(/Status: .*Connected/);
    expect(got.stdout).toContain(server.url);
  });

  it("Claude Code without the header is refused (the server answers 401, so it is not Connected)", () => {
    const added = run(CLAUDE, ["mcp", "add", "--transport", "http", "anonymous", server.url]);
    expect(added.status, added.stderr).toBe(0);
    const got = run(CLAUDE, ["mcp", "get", "anonymous"]);
    expect(got.stdout).not.toMatch(/Status: .*✔ Connected/);
  });

  it("MCP Inspector CLI: --transport http --method tools/list lists every tool", () => {
    const listed = run(INSPECTOR, ["--cli", server.url, "--transport", "http", "--method", "tools/list", "--header", `Authorization: Bearer ${server.tokens.client ?? ""}`]);
    expect(listed.status, listed.stderr).toBe(0);
    const names = (JSON.parse(listed.stdout) as { tools: { name: string }[] }).tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(["list_probes", "exec_program", "get_result", "stop_execution", "list_executions"]));
  });
});
