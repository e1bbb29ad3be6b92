import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const UNIT_FILE = new URL("../../setup/bpftrace-mcp-server.service", import.meta.url);
const unit = readFileSync(UNIT_FILE, "utf8");

/** Every `Key=value` of the unit, in order (a key may repeat, as Environment= does). */
const settings = unit
  .split("\n")
  .filter((line) => /^[A-Za-z]+=/.test(line))
  .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as const);
const valuesOf = (key: string): string[] => settings.filter(([name]) => name === key).map(([, value]) => value);

describe("the systemd unit in setup/", () => {
  it("runs serve over HTTP on loopback as the dedicated user, with its tokens file and audit log", () => {
    expect(valuesOf("User")).toEqual(["bpftrace-mcp"]);
    expect(valuesOf("ExecStart")[0]).toMatch(/bpftrace-mcp-server serve$/);
    expect(valuesOf("Environment")).toEqual(expect.arrayContaining(["BPFTRACE_MCP_HTTP=127.0.0.1:8080", "BPFTRACE_MCP_TOKENS_FILE=/etc/bpftrace-mcp-server/tokens"]));
    expect(valuesOf("UMask")).toEqual(["0077"]);
  });

  it("hardens what sudo and bpftrace leave possible, and delegates its cgroup for the cheaper self-exclusion filter", () => {
    for (const [key, value] of [["ProtectSystem", "strict"], ["ProtectHome", "true"], ["PrivateTmp", "true"], ["RestrictSUIDSGID", "true"], ["Delegate", "yes"], ["ProtectControlGroups", "false"]]) {
      expect(valuesOf(key ?? ""), key).toEqual([value]);
    }
    // sudo is setuid: these would break every trace.
    expect(valuesOf("NoNewPrivileges")).toEqual([]);
    expect(valuesOf("CapabilityBoundingSet")).toEqual([]);
  });

  it.runIf(spawnSync("systemd-analyze", ["--version"]).status === 0)("passes systemd-analyze verify without a warning", () => {
    const copy = join(mkdtempSync(join(tmpdir(), "unit-")), "bpftrace-mcp-server.service");
    copyFileSync(UNIT_FILE, copy);
    const result = spawnSync("systemd-analyze", ["verify", copy], { encoding: "utf8" });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr.split("\n").filter((line) => line.includes(copy))).toEqual([]);
  });
});
