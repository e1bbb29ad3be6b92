import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AUDIT_PROGRAM_MAX_CHARS, FileAuditLog } from "../../src/audit/audit-log.js";
import { createLogger } from "../../src/logger.js";

function auditFile(maxBytes = 10_000_000): { log: FileAuditLog; path: string } {
  const path = join(mkdtempSync(join(tmpdir(), "audit-")), "nested", "audit.jsonl");
  return { log: new FileAuditLog(path, maxBytes, createLogger("silent"), () => Date.UTC(2026, 0, 2)), path };
}

describe("FileAuditLog", () => {
  it("appends one JSON line per record with a timestamp, in a 0600 file", () => {
    const { log, path } = auditFile();
    expect(log.write({ event: "refused", tool: "exec_program", execution_id: null, program_sha256: "ab", program: "BEGIN {}", decision: "refused", reason: "r" })).toBeNull();
    const lines = readFileSync(path, "utf8").trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ time: "2026-01-02T00:00:00.000Z", event: "refused", program: "BEGIN {}" });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("cuts an oversized program so one request cannot push the history out, keeping its hash", () => {
    const { log, path } = auditFile();
    log.write({ event: "refused", tool: "exec_program", execution_id: null, program_sha256: "full-hash", program: "x".repeat(3_000_000), decision: "refused" });
    const record = JSON.parse(readFileSync(path, "utf8")) as { program: string; program_truncated: boolean; program_sha256: string };
    expect(record.program).toHaveLength(AUDIT_PROGRAM_MAX_CHARS);
    expect(record.program_truncated).toBe(true);
    expect(record.program_sha256).toBe("full-hash");
  });

  it("reports a write failure as a message instead of throwing", () => {
    const blocked = new FileAuditLog("/proc/version/audit.jsonl", 1000, createLogger("silent"));
    expect(blocked.write({ event: "start", tool: "t", execution_id: "ex-1", program_sha256: null, program: null, decision: "allowed" })).toMatch(/could not be written/);
  });
});
