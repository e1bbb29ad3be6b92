import { readFileSync } from "node:fs";
import { getMcpConfigForManifest, LATEST_MANIFEST_VERSION, MANIFEST_SCHEMAS, type McpbManifestAny } from "@anthropic-ai/mcpb";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, SETTINGS, type SettingName } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { createServer } from "../../src/server.js";
import { connectInMemory } from "../helpers/in-memory-client.js";

// manifest.json describes the MCP Bundle (.mcpb) Claude Desktop installs. Its settings become the
// server's environment variables, so they are held to config.ts, the one source of truth.
const manifest = JSON.parse(readFileSync(new URL("../../manifest.json", import.meta.url), "utf8")) as McpbManifestAny & {
  user_config: Record<string, { type: string; default?: unknown; sensitive?: boolean; required?: boolean; min?: number; max?: number }>;
  server: { mcp_config: { command: string; args: string[]; env: Record<string, string> } };
};
const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string; engines: { node: string } };
const REFERENCE = /\$\{user_config\.([^}]+)\}/g;

/** The server's command line and environment as Claude Desktop builds them (mcpb's own getMcpConfigForManifest). */
async function hostConfig(userConfig: Record<string, string | number>): Promise<{ command: string; args: string[]; env: Record<string, string> }> {
  const config = await getMcpConfigForManifest({
    manifest,
    extensionPath: "/ext/bpftrace",
    systemDirs: { HOME: "/home/u", DESKTOP: "/home/u/Desktop", DOCUMENTS: "/home/u/Documents", DOWNLOADS: "/home/u/Downloads" },
    userConfig,
    pathSeparator: "/",
  });
  if (config === undefined) throw new Error("Claude Desktop would not start the server: required settings missing");
  return config as { command: string; args: string[]; env: Record<string, string> };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe("manifest.json (the MCP Bundle)", () => {
  it("passes @anthropic-ai/mcpb's schema for the newest manifest version it knows", () => {
    expect(manifest.manifest_version).toBe(LATEST_MANIFEST_VERSION);
    const result = MANIFEST_SCHEMAS[LATEST_MANIFEST_VERSION].safeParse(manifest);
    expect(result.success ? "" : JSON.stringify(result.error.issues)).toBe("");
  });

  it("has package.json's version, Linux only, a node server on dist/index.js, and package.json's Node range", () => {
    expect(manifest.version).toBe(pkg.version);
    expect(manifest.compatibility?.platforms).toEqual(["linux"]);
    expect(manifest.compatibility?.runtimes?.node).toBe(`${pkg.engines.node}.0.0`);
    expect(manifest.server.type).toBe("node");
    expect(manifest.server.entry_point).toBe("dist/index.js");
    expect(manifest.server.mcp_config.args).toEqual(["${__dirname}/dist/index.js"]);
  });

  it("gives every setting it substitutes a default, so no literal ${user_config.…} reaches the server (mcpb#250)", () => {
    const referenced = [...JSON.stringify(manifest.server.mcp_config).matchAll(REFERENCE)].map((match) => match[1] ?? "");
    expect(referenced.sort()).toEqual(Object.keys(manifest.user_config).sort());
    for (const name of referenced) expect(manifest.user_config[name]?.default, name).toBeDefined();
  });

  it("passes each setting only as one of the server's own variables, with config.ts's default and bounds", () => {
    const env = manifest.server.mcp_config.env;
    for (const [variable, value] of Object.entries(env)) {
      expect(Object.keys(SETTINGS), variable).toContain(variable);
      const name = /^\$\{user_config\.([^}]+)\}$/.exec(value)?.[1] ?? "";
      const option = manifest.user_config[name];
      expect(option, variable).toBeDefined();
      const shown = variable === "BPFTRACE_PASSWD" ? "" : SETTINGS[variable as SettingName].default;
      expect(String(option?.default), variable).toBe(shown);
      if (option?.type === "number") {
        expect(() => loadConfig({ [variable]: String(option.min), BPFTRACE_MCP_DEFAULT_TIMEOUT: "1" })).not.toThrow();
        expect(() => loadConfig({ [variable]: String((option.min ?? 0) - 1) })).toThrow(ConfigError);
        expect(() => loadConfig({ [variable]: String((option.max ?? 0) + 1) })).toThrow(ConfigError);
      }
    }
  });

  it("keeps the sudo password sensitive and out of argv: it reaches the server only in its environment", async () => {
    expect(manifest.user_config.sudo_password).toMatchObject({ type: "string", sensitive: true, required: false });
    const started = await hostConfig({ sudo_password: "pw-Manifest-7a2e" });
    expect(started.args.join(" ")).not.toContain("pw-Manifest-7a2e");
    expect(started.env.BPFTRACE_PASSWD).toBe("pw-Manifest-7a2e");
  });

  it("starts, with nothing set, a server whose config is the server's own defaults", async () => {
    const started = await hostConfig({});
    expect(started).toEqual({
      command: "node",
      args: ["/ext/bpftrace/dist/index.js"],
      env: { BPFTRACE_PASSWD: "", BPFTRACE_PATH: "bpftrace", BPFTRACE_MCP_DEFAULT_TIMEOUT: "10", BPFTRACE_MCP_MAX_TIMEOUT: "60", BPFTRACE_MCP_AUDIT_LOG: "" },
    });
    expect(loadConfig({ HOME: "/home/u", ...started.env })).toEqual(loadConfig({ HOME: "/home/u" }));
    const set = await hostConfig({ bpftrace_path: "/usr/bin/bpftrace", default_timeout: 5, max_timeout: 30, audit_log: "off" });
    expect(loadConfig(set.env)).toMatchObject({ bpftracePath: "/usr/bin/bpftrace", defaultTimeoutSeconds: 5, maxTimeoutSeconds: 30, auditLogPath: null });
  });

  it("lists exactly the tools the server registers", async () => {
    const { server, cleanup } = createServer({ config: loadConfig({ BPFTRACE_PATH: "/nonexistent/bpftrace", BPFTRACE_MCP_AUDIT_LOG: "off" }), logger: createLogger("silent") });
    closers.push(() => cleanup(100));
    const client = await connectInMemory(server);
    closers.push(() => client.close());
    const { tools } = await client.listTools();
    expect((manifest.tools ?? []).map((tool) => tool.name).sort()).toEqual(tools.map((tool) => tool.name).sort());
  });
});
