import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runOrThrow, tmpfsMounts } from "../helpers/fault-fixtures.js";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { startServer, type RunningServer } from "../helpers/server-process.js";
import { integrityOf, logEntries, ok, waitForEnd, type Page } from "../helpers/store-client.js";

const WRITE_FAILED = "execution store write failed: results are kept in memory";
const WRITABLE_AGAIN = "execution store writable again";

// Mounting needs root (which ignores directory permissions, so a read-only directory is a read-only mount).
const asRoot = process.geteuid?.() === 0;
const describeAsRoot = asRoot ? describe : process.env.CI ? describe : describe.skip;

const run = runOrThrow;

describeAsRoot(`the execution store on a disk that fails (fake bpftrace${asRoot ? "" : "; skipped: mounting tmpfs needs root"})`, () => {
  let fake = "";
  let server: RunningServer | undefined;
  const scratch = mkdtempSync(join(tmpdir(), "store-faults-"));
  const tmpfs = tmpfsMounts(scratch);
  const mountTmpfs = tmpfs.mount;

  async function serverOn(stateDir: string): Promise<RunningServer> {
    server = await startServer({ env: { BPFTRACE_PATH: fake, BPFTRACE_MCP_STATE_DIR: stateDir } });
    return server;
  }

  /** A run to its end: what get_result said then. */
  async function traceOnce(target: RunningServer, lines: number): Promise<{ id: string; page: Page; startWarnings: string[] }> {
    const started = ok<{ execution_id: string; warnings: string[] }>(await target.call("exec_program", { program: `BEGIN { } // fake: lines=${lines} // fake: exit-after-attach=0`, timeout: 10 }));
    await waitForEnd(target, started.execution_id);
    const page = ok<Page>(await target.call("get_result", { execution_id: started.execution_id, offset: lines - 1 }));
    return { id: started.execution_id, page, startWarnings: started.warnings };
  }

  beforeAll(() => {
    if (!asRoot) throw new Error("store fault tests need root (to mount tmpfs) and are required in CI");
    fake = installFakeBpftrace();
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  afterAll(() => {
    tmpfs.unmountAll();
    rmSync(scratch, { recursive: true, force: true });
    if (fake) rmSync(dirname(fake), { recursive: true, force: true });
  });

  it("runs traces on a read-only disk with a warning in every result, logged once, and stores them once it is writable", async () => {
    const mount = mountTmpfs("size=4m");
    const stateDir = join(mount, "state");
    mkdirSync(stateDir, { mode: 0o700 });
    run("mount", ["-o", "remount,ro", mount]);
    const target = await serverOn(stateDir);
    const outcomes = [await traceOnce(target, 20), await traceOnce(target, 20)];
    for (const outcome of outcomes) {
      expect(outcome.page).toMatchObject({ status: "completed", lines: ["line 19"] });
      expect(outcome.page.warnings).toEqual([expect.stringMatching(/^the execution store .* could not be written \(.*EROFS.*\): results are kept in memory until it is writable$/)]);
      expect(outcome.startWarnings).toEqual(outcome.page.warnings);
    }
    expect(textOfList(await target.call("list_executions"))).toMatch(/Warning: the execution store .* could not be written/);
    expect(logEntries(target, WRITE_FAILED)).toHaveLength(1);

    run("mount", ["-o", "remount,rw", mount]);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(ok<Page>(await target.call("get_result", { execution_id: outcomes[0]!.id })).warnings).toEqual([]);
    expect(logEntries(target, WRITABLE_AGAIN)).toHaveLength(1);
    await target.close();
    server = undefined;
    const again = await serverOn(stateDir);
    for (const outcome of outcomes) expect(ok<Page>(await again.call("get_result", { execution_id: outcome.id, offset: 19 }))).toMatchObject({ stored: true, status: "completed", lines: ["line 19"] });
  });

  it("runs traces on a full disk with a warning in every result, logged once, and stores every one of them when space frees", async () => {
    const mount = mountTmpfs("size=8m");
    const stateDir = join(mount, "state");
    const target = await serverOn(stateDir);
    const before = await traceOnce(target, 100);
    expect(before.page.warnings).toEqual([]);

    const filler = join(mount, "filler");
    const fd = openSync(filler, "w");
    try {
      for (;;) writeSync(fd, Buffer.alloc(4096, 0x2e));
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe("ENOSPC");
    } finally {
      closeSync(fd);
    }
    const whileFull = [await traceOnce(target, 30_000), await traceOnce(target, 30_000)];
    for (const outcome of whileFull) {
      expect(outcome.page).toMatchObject({ status: "completed", lines_total: 30_000, lines: ["line 29999"] });
      expect(outcome.page.warnings).toEqual([expect.stringMatching(/^the execution store .* could not be written, the disk is full \(.*SQLITE_FULL.*\)/)]);
    }
    expect(logEntries(target, WRITE_FAILED)).toHaveLength(1);

    unlinkSync(filler);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(ok<Page>(await target.call("get_result", { execution_id: whileFull[0]!.id })).warnings).toEqual([]);
    expect(logEntries(target, WRITABLE_AGAIN)).toHaveLength(1);
    await target.close();
    server = undefined;
    expect(integrityOf(stateDir)).toBe("ok");
    const again = await serverOn(stateDir);
    for (const outcome of [before, ...whileFull]) {
      const lines = outcome === before ? 100 : 30_000;
      expect(ok<Page>(await again.call("get_result", { execution_id: outcome.id, offset: lines - 1 }))).toMatchObject({ stored: true, lines_total: lines, lines: [`line ${lines - 1}`] });
    }
  });
});

function textOfList(result: { content: unknown }): string {
  const first = (result.content as { type: string; text?: string }[])[0];
  return first?.text ?? "";
}
