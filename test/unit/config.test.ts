import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, SETTINGS } from "../../src/config.js";

describe("loadConfig", () => {
  it("uses the documented defaults", () => {
    const config = loadConfig({ HOME: "/home/alice" });
    expect(config.maxConcurrent).toBe(Number(SETTINGS.BPFTRACE_MCP_MAX_CONCURRENT.default));
    expect(config.defaultTimeoutSeconds).toBe(10);
    expect(config.maxTimeoutSeconds).toBe(60);
    expect(config.ringCapacityLines).toBe(10_000);
    expect(config.allow).toEqual([]);
    expect(config.auditLogPath).toBe("/home/alice/.local/state/bpftrace-mcp-server/audit.jsonl");
  });

  it("puts the audit log under XDG_STATE_HOME, or nowhere when off", () => {
    expect(loadConfig({ XDG_STATE_HOME: "/var/state" }).auditLogPath).toBe("/var/state/bpftrace-mcp-server/audit.jsonl");
    expect(loadConfig({ BPFTRACE_MCP_AUDIT_LOG: "off" }).auditLogPath).toBeNull();
  });

  it("rejects a bad number naming the variable", () => {
    expect(() => loadConfig({ BPFTRACE_MCP_MAX_CONCURRENT: "lots" })).toThrow(/BPFTRACE_MCP_MAX_CONCURRENT must be a number/);
    expect(() => loadConfig({ BPFTRACE_MCP_MAX_CONCURRENT: "0" })).toThrow(ConfigError);
  });

  it("accepts only known allow flags", () => {
    expect(loadConfig({ BPFTRACE_MCP_ALLOW: "cat, include" }).allow).toEqual(["cat", "include"]);
    expect(() => loadConfig({ BPFTRACE_MCP_ALLOW: "cat,unsafe" })).toThrow(/BPFTRACE_MCP_ALLOW accepts only/);
  });

  it("refuses a default timeout above the maximum", () => {
    expect(() => loadConfig({ BPFTRACE_MCP_DEFAULT_TIMEOUT: "90" })).toThrow(/must not exceed/);
  });

  it("passes only well-formed BPFTRACE_* child variables", () => {
    expect(loadConfig({ BPFTRACE_MCP_CHILD_ENV: "BPFTRACE_STRLEN=200" }).childEnv).toEqual({ BPFTRACE_STRLEN: "200" });
    expect(() => loadConfig({ BPFTRACE_MCP_CHILD_ENV: "LD_PRELOAD=/x.so" })).toThrow(/BPFTRACE_NAME=value/);
  });

  it("bounds output memory, audit history and message size, with the documented defaults", () => {
    const config = loadConfig({ HOME: "/home/alice" });
    expect(config.outputBudgetBytes).toBe(256 * 1024 * 1024);
    expect(config.auditRetentionMs).toBe(168 * 3_600_000);
    expect(config.auditMaxTotalBytes).toBe(1024 * 1024 * 1024);
    expect(config.maxMessageBytes).toBe(4 * 1024 * 1024);
    expect(loadConfig({ BPFTRACE_MCP_AUDIT_RETENTION_HOURS: "2" }).auditRetentionMs).toBe(7_200_000);
    expect(() => loadConfig({ BPFTRACE_MCP_OUTPUT_BUDGET_BYTES: "100" })).toThrow(/BPFTRACE_MCP_OUTPUT_BUDGET_BYTES must be at least 65536/);
    expect(() => loadConfig({ BPFTRACE_MCP_MAX_MESSAGE_BYTES: "1000" })).toThrow(/BPFTRACE_MCP_MAX_MESSAGE_BYTES must be at least/);
    expect(() => loadConfig({ BPFTRACE_MCP_AUDIT_RETENTION_HOURS: "0" })).toThrow(/BPFTRACE_MCP_AUDIT_RETENTION_HOURS must be at least 1/);
    expect(() => loadConfig({ BPFTRACE_MCP_AUDIT_MAX_TOTAL_BYTES: "10000000" })).toThrow(/at least twice BPFTRACE_MCP_AUDIT_MAX_BYTES/);
  });
});
