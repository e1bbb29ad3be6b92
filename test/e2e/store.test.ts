import Database from "better-sqlite3";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { processesWith } from "../helpers/processes.js";
import { startServer, textOf, type RunningServer } from "../helpers/server-process.js";
import { allPages, integrityOf, logEntries, ok, start, waitForEnd, withoutStored, type Page } from "../helpers/store-client.js";

const scratch = mkdtempSync(join(tmpdir(), "store-e2e-"));
let fake = "";
const servers: RunningServer[] = [];
let nextDirectory = 0;

beforeAll(() => {
  fake = installFakeBpftrace();
});

afterEach(async () => {
  for (const server of servers.splice(0)) await server.close().catch(() => undefined);
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(dirname(fake), { recursive: true, force: true });
});

function stateDir(): string {
  return join(scratch, `state-${nextDirectory++}`);
}

async function serverOn(directory: string, env: Record<string, string> = {}): Promise<RunningServer> {
  const server = await startServer({ env: { BPFTRACE_PATH: fake, BPFTRACE_MCP_STATE_DIR: directory, BPFTRACE_MCP_KILL_GRACE_MS: "1000", ...env } });
  servers.push(server);
  return server;
}

/** SIGKILL, as a client that gives up on a server does; its traces end by their own watchdogs (killed here to save time). */
async function kill(server: RunningServer, marker: string): Promise<void> {
  process.kill(server.pid, "SIGKILL");
  servers.splice(servers.indexOf(server), 1);
  await server.close().catch(() => undefined);
  for (const pid of processesWith(marker)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const FINISHING = (lines: number, marker: string): string => `BEGIN { } // fake: lines=${lines} // fake: exit-after-attach=0 // ${marker}`;
const TICKING = (ms: number, marker: string): string => `BEGIN { } // fake: tick-ms=${ms} // ${marker}`;

describe("executions outlive the server (built server, fake bpftrace)", () => {
  it("after a SIGKILL mid-trace, lists the finished runs and pages them identically, and the running one as interrupted with all but its last second", async () => {
    const directory = stateDir();
    const marker = `store-kill-${process.pid}`;
    const first = await serverOn(directory);
    const finished = await start(first, FINISHING(2_500, marker));
    await waitForEnd(first, finished);
    const before = await allPages(first, finished, 700);
    const running = await start(first, TICKING(10, marker), 60);
    await sleep(2_000);
    const seen = ok<Page>(await first.call("get_result", { execution_id: running, offset: 0, limit: 10_000, max_chars: 2_000_000 }));
    expect(seen.lines.length).toBeGreaterThan(50);
    await sleep(1_500);
    const killedAt = Date.now();
    await kill(first, marker);

    const second = await serverOn(directory);
    const listed = ok<{ executions: { execution_id: string; status: string; stored: boolean }[] }>(await second.call("list_executions"));
    expect(listed.executions).toEqual([
      expect.objectContaining({ execution_id: running, status: "interrupted", stored: true }),
      expect.objectContaining({ execution_id: finished, status: "completed", stored: true }),
    ]);
    const after = await allPages(second, finished, 700);
    expect(after.map(withoutStored)).toEqual(before.map(withoutStored));
    const interrupted = ok<Page>(await second.call("get_result", { execution_id: running, offset: 0, limit: 10_000, max_chars: 2_000_000 }));
    expect(interrupted).toMatchObject({ status: "interrupted", stored: true, lines_dropped: 0 });
    // What was read 1.5 s before the kill is all there, line for line.
    expect(interrupted.lines.slice(0, seen.lines.length)).toEqual(seen.lines);
    // The fake prints its clock in each line: the last one kept is at most about a second older than the kill.
    const last = ok<Page>(await second.call("get_result", { execution_id: running, tail: 1 }));
    const lastTick = Number(/^tick (\d+)$/.exec(last.lines.at(-1) ?? "")?.[1]);
    expect(killedAt - lastTick).toBeLessThan(1_400);
    expect(integrityOf(directory)).toBe("ok");
  });

  it("survives repeated kills during writes: the database stays intact and no finished run is lost", async () => {
    const directory = stateDir();
    const marker = `store-kills-${process.pid}`;
    const finishedIds: string[] = [];
    for (let round = 0; round < 4; round += 1) {
      const server = await serverOn(directory);
      const finished = await start(server, FINISHING(3_000, `${marker} ${round}`));
      await waitForEnd(server, finished);
      finishedIds.push(finished);
      await start(server, TICKING(1, marker), 60);
      await start(server, `BEGIN { } // fake: lines=20000 // fake: tick-ms=5 // ${marker}`, 60);
      // Somewhere inside a batch of writes.
      await sleep(300 + round * 350);
      await kill(server, marker);
      expect(integrityOf(directory), `round ${round}`).toBe("ok");
    }
    const last = await serverOn(directory);
    const listed = ok<{ executions: { execution_id: string; status: string }[]; total: number }>(await last.call("list_executions", { limit: 50 }));
    expect(listed.total).toBe(12);
    for (const id of finishedIds) expect(listed.executions).toContainEqual(expect.objectContaining({ execution_id: id, status: "completed" }));
    expect(listed.executions.filter((execution) => execution.status === "interrupted")).toHaveLength(8);
    for (const id of finishedIds) expect(ok<Page>(await last.call("get_result", { execution_id: id, offset: 2_999, limit: 5 })).lines).toEqual(["line 2999"]);
  });

  it("lets two servers write one state directory at once: both stdio servers are the principal local, so each lists the other's runs too", async () => {
    const directory = stateDir();
    const marker = `store-two-${process.pid}`;
    const [left, right] = [await serverOn(directory), await serverOn(directory)];
    const floods = [await start(left, TICKING(2, marker), 60), await start(right, TICKING(2, marker), 60)];
    const finished: string[] = [];
    for (let round = 0; round < 3; round += 1) {
      for (const server of [left, right]) {
        const id = await start(server, FINISHING(2_000, `${marker} ${round}`));
        await waitForEnd(server, id);
        finished.push(id);
      }
    }
    await sleep(1_200);
    const fromRight = ok<{ executions: { execution_id: string; status: string; stored: boolean }[]; total: number }>(await right.call("list_executions", { limit: 50 }));
    expect(fromRight.total).toBe(8);
    // The other server's trace is still going: read from disk, running, and not this server's to stop.
    expect(fromRight.executions).toContainEqual(expect.objectContaining({ execution_id: floods[0], status: "running", stored: true }));
    const stop = await right.call("stop_execution", { execution_id: floods[0] });
    expect(textOf(stop)).toMatch(/^Running in another server process \(not stopped\)/);
    const foreignPage = ok<Page>(await right.call("get_result", { execution_id: finished[0], offset: 1_990, limit: 20 }));
    expect(foreignPage).toMatchObject({ stored: true, status: "completed", lines_total: 2_000 });
    expect(foreignPage.lines.at(-1)).toEqual("line 1999");
    for (const server of [left, right]) await server.close();
    servers.splice(0);
    expect(integrityOf(directory)).toBe("ok");

    const third = await serverOn(directory);
    const all = ok<{ executions: { execution_id: string; status: string }[] }>(await third.call("list_executions", { limit: 50 }));
    expect(all.executions.map((execution) => execution.execution_id).sort()).toEqual([...finished, ...floods].sort());
    for (const id of floods) expect(all.executions).toContainEqual(expect.objectContaining({ execution_id: id, status: "stopped" }));
  });

  it("keeps tracing while another process holds the database locked: results say so, the log says it once, and all is written when the lock goes", async () => {
    const directory = stateDir();
    const marker = `store-lock-${process.pid}`;
    const server = await serverOn(directory);
    await waitForEnd(server, await start(server, FINISHING(1, marker)));
    const holder = new Database(join(directory, "executions.db"));
    holder.exec("BEGIN IMMEDIATE");
    let id = "";
    try {
      id = await start(server, FINISHING(500, marker));
      await waitForEnd(server, id);
      await sleep(2_500);
      const locked = ok<Page>(await server.call("get_result", { execution_id: id, offset: 499 }));
      expect(locked.status).toBe("completed");
      expect(locked.lines).toEqual(["line 499"]);
      expect(locked.warnings).toEqual([expect.stringMatching(/execution store .* is locked by another process \(.*SQLITE_BUSY.*\): results are kept in memory and written once it frees/)]);
      expect(logEntries(server, "execution store write failed: results are kept in memory")).toHaveLength(1);
    } finally {
      holder.exec("COMMIT");
      holder.close();
    }
    await sleep(2_000);
    expect(ok<Page>(await server.call("get_result", { execution_id: id })).warnings).toEqual([]);
    expect(logEntries(server, "execution store writable again")).toHaveLength(1);
    await server.close();
    servers.splice(0);
    const again = await serverOn(directory);
    expect(ok<Page>(await again.call("get_result", { execution_id: id, offset: 499 }))).toMatchObject({ stored: true, lines: ["line 499"] });
  });

  it("moves a corrupt database file aside with a timestamp, starts a fresh one and warns", async () => {
    const directory = stateDir();
    const marker = `store-corrupt-${process.pid}`;
    const first = await serverOn(directory);
    const lost = await start(first, FINISHING(20_000, marker));
    await waitForEnd(first, lost);
    await first.close();
    servers.splice(0);
    const file = join(directory, "executions.db");
    truncateSync(file, Math.floor(statSync(file).size / 3));

    const second = await serverOn(directory);
    const listing = await second.call("list_executions");
    expect(textOf(listing)).toMatch(/Warning: the execution store .*executions\.db was corrupt \(.*cut short.*\); it was moved to .*executions\.db\.corrupt-\d{4}-\d\d-\d\dT[\d-]+Z and a fresh one was started/);
    expect(readdirSync(directory).filter((name) => /^executions\.db\.corrupt-/.test(name))).toHaveLength(1);
    const kept = await start(second, FINISHING(3, marker));
    await waitForEnd(second, kept);
    await second.close();
    servers.splice(0);
    writeFileSync(join(directory, "unrelated"), "");
    const third = await serverOn(directory);
    expect(ok<{ executions: { execution_id: string }[] }>(await third.call("list_executions")).executions.map((execution) => execution.execution_id)).toEqual([kept]);
  });

  it("stores no secret: the sudo password given to the server appears nowhere in its database", async () => {
    const directory = stateDir();
    const password = `pw-${process.pid}-correct-horse`;
    const server = await serverOn(directory, { BPFTRACE_PASSWD: password });
    const id = await start(server, FINISHING(50, "secret-check"));
    await waitForEnd(server, id);
    await server.close();
    servers.splice(0);
    for (const name of readdirSync(directory)) expect(readFileSync(join(directory, name)).includes(password), name).toBe(false);
  });
});
