import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { buildSpawnPlan } from "../../src/bpftrace/command.js";
import { classifySudoFailure } from "../../src/bpftrace/sudo-errors.js";
import { loadConfig } from "../../src/config.js";
import { loadEnvFile } from "../../src/env-file.js";
import { toolError } from "../../src/errors.js";
import { createLogger } from "../../src/logger.js";

const PASSWORD = "pw-Unit-7f3a9c-hygiene";

describe("the sudo password stays out of logs, errors and argv", () => {
  const directory = mkdtempSync(join(tmpdir(), "bpfmcp-password-"));

  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it("is redacted from every log object that could carry it", () => {
    let logged = "";
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logged += chunk.toString();
        callback();
      },
    });
    const logger = createLogger("debug", sink);
    const config = loadConfig({ BPFTRACE_PASSWD: PASSWORD });
    logger.info({ config }, "config");
    logger.debug({ env: { BPFTRACE_PASSWD: PASSWORD } }, "env");
    logger.error({ err: { password: PASSWORD, passwd: PASSWORD } }, "nested");
    logger.warn({ sudoPassword: PASSWORD, password: PASSWORD }, "top level");
    expect(logged.split("\n").filter(Boolean)).toHaveLength(4);
    expect(logged).not.toContain(PASSWORD);
    expect(logged).toContain("[redacted]");
  });

  it("goes only to sudo's stdin, even when BPFTRACE_* settings ride on sudo's argv", () => {
    const config = { childEnv: { BPFTRACE_STRLEN: "200" }, sudoPassword: PASSWORD };
    const plan = buildSpawnPlan("sudo-password", "/usr/bin/bpftrace", ["-e", "BEGIN { exit(); }"], config);
    expect(plan.args).toContain("BPFTRACE_STRLEN=200");
    expect(plan.stdinText).toBe(`${PASSWORD}\n`);
    expect(JSON.stringify([plan.file, plan.args, plan.env, plan.cwd])).not.toContain(PASSWORD);
    for (const mode of ["root", "sudo-nopasswd"] as const) {
      const other = buildSpawnPlan(mode, "/usr/bin/bpftrace", ["-l"], config);
      expect(other.stdinText, mode).toBeNull();
      expect(JSON.stringify(other), mode).not.toContain(PASSWORD);
    }
  });

  it("is never echoed from sudo's stderr into an error the assistant sees", () => {
    const stderr = `Sorry, try again.\n${PASSWORD}\nsudo: no password was provided\nsudo: 1 incorrect password attempt\n`;
    const failure = classifySudoFailure(stderr, "sudo-password", "alice");
    expect(failure?.code).toBe("SUDO_REJECTED");
    const shown = JSON.stringify(toolError(failure));
    expect(shown).toContain("sudo rejected BPFTRACE_PASSWD for user alice");
    expect(shown).not.toContain(PASSWORD);
  });

  it("is not quoted in a settings error", () => {
    let message = "";
    try {
      loadConfig({ BPFTRACE_PASSWD: PASSWORD, LOG_LEVEL: "loud", BPFTRACE_MCP_MAX_CONCURRENT: PASSWORD });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/LOG_LEVEL must be one of/);
    expect(message).not.toContain(PASSWORD);
  });

  it("is read from a .env file, which is flagged when others can read it", async () => {
    const file = join(directory, "password.env");
    writeFileSync(file, `BPFTRACE_PASSWD='${PASSWORD}'\n`);
    chmodSync(file, 0o644);
    const open: NodeJS.ProcessEnv = {};
    expect(await loadEnvFile(file, open, directory)).toMatchObject({ path: file, tooOpen: true });
    expect(open.BPFTRACE_PASSWD).toBe(PASSWORD);
    chmodSync(file, 0o600);
    expect((await loadEnvFile(file, {}, directory)).tooOpen).toBe(false);
    const noPassword = join(directory, "settings.env");
    writeFileSync(noPassword, "LOG_LEVEL=debug\n", { mode: 0o644 });
    chmodSync(noPassword, 0o644);
    expect((await loadEnvFile(noPassword, {}, directory)).tooOpen).toBe(false);
  });
});
