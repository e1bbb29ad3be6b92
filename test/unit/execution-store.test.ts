import Database from "better-sqlite3";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import type { MapsPrint } from "../../src/bpftrace/maps.js";
import { Execution } from "../../src/executions/execution.js";
import { executionFromStore } from "../../src/executions/stored-output.js";
import { createLogger } from "../../src/logger.js";
import { InlineBackend } from "../../src/storage/inline-backend.js";
import { SqliteStore } from "../../src/storage/sqlite-store.js";

const directories: string[] = [];
const stores: SqliteStore[] = [];

function stateDir(): string {
  const directory = mkdtempSync(join(tmpdir(), "store-unit-"));
  directories.push(directory);
  return join(directory, "state");
}

function openStore(directory: string, options: { retentionMs?: number; maxBytes?: number; now?: () => number } = {}): SqliteStore {
  const now = options.now ?? Date.now;
  const backend = new InlineBackend({ directory, retentionMs: options.retentionMs ?? 86_400_000, maxBytes: options.maxBytes ?? 2 ** 30, busyTimeoutMs: 200 }, now);
  const store = new SqliteStore(backend, join(directory, "executions.db"), createLogger("silent"), now);
  stores.push(store);
  return store;
}

let nextId = 0;
function execution(lines: number, options: { ring?: number; owner?: string; startedAt?: number; stderrEvery?: number } = {}): Execution {
  const id = `ex-${(0xa00000000000 + nextId++).toString(16)}`;
  const run = new Execution(id, `BEGIN { printf("${id}\\n"); }`, 5, options.startedAt ?? Date.now(), { ringCapacityLines: options.ring ?? 10_000, ringCapacityBytes: 16 * 2 ** 20 }, options.owner ?? "local");
  for (let index = 0; index < lines; index += 1) run.ring.push(options.stderrEvery && index % options.stderrEvery === 0 ? "stderr" : "stdout", `line ${index} ${"é".repeat(index % 3)}`);
  return run;
}

function finish(run: Execution, maps: MapsPrint[] = []): void {
  run.maps.restore(maps);
  run.exitCode = 0;
  run.attachedAt = run.startedAt + 5;
  run.finish("completed", run.startedAt + 100);
}

/** Resolves once the store has written what it tracked (each batch follows the last). */
async function settle(store: SqliteStore): Promise<void> {
  for (let round = 0; round < 5; round += 1) await new Promise((resolve) => setTimeout(resolve, 5));
  await (store as unknown as { flush(): Promise<void> }).flush();
}

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

const MAPS: MapsPrint[] = [{ origin: "end", first_line: 3, maps: [{ name: "@calls", kind: "value", entries: [{ key: ["bash"], value: 7 }], entries_total: 1 }] }];

describe("the SQLite execution store", () => {
  it("serves a stored run with the same lines at the same offsets, both streams, and its maps", async () => {
    const directory = stateDir();
    const store = openStore(directory);
    const run = execution(2_500, { stderrEvery: 7 });
    store.track(run);
    finish(run, MAPS);
    store.ended(run);
    await settle(store);
    const stored = await store.load(run.id);
    expect(stored).not.toBeNull();
    const restored = executionFromStore(stored!);
    expect(restored.stored).toBe(true);
    expect(restored.status).toBe("completed");
    expect(restored.mapPrints).toEqual(MAPS);
    for (const [offset, limit] of [[0, 1000], [999, 7], [2_400, 1000], [3_000, 10]] as const) expect(restored.ring.read(offset, limit)).toEqual(run.ring.read(offset, limit));
    expect(restored.ring.linesTotal).toBe(2_500);
  });

  it("mirrors the ring of a run whose ring dropped lines: same first line, same dropped count, batches of a running trace included", async () => {
    const store = openStore(stateDir());
    const run = execution(0, { ring: 100 });
    store.track(run);
    for (let batch = 0; batch < 5; batch += 1) {
      for (let index = 0; index < 70; index += 1) run.ring.push("stdout", `b${batch} l${index}`);
      await settle(store);
      const midway = executionFromStore((await store.load(run.id))!);
      expect(midway.status).toBe("running");
      expect(midway.ring.read(0, 1000)).toEqual(run.ring.read(0, 1000));
    }
    finish(run);
    store.ended(run);
    await settle(store);
    const restored = executionFromStore((await store.load(run.id))!);
    expect(restored.ring.linesDropped).toBe(250);
    expect(restored.ring.read(0, 1000)).toEqual(run.ring.read(0, 1000));
  });

  it("copies lines read in one chunk (a flood's) in runs and serves them back identically, stderr and cut-off runs included", async () => {
    const store = openStore(stateDir());
    const run = execution(0, { ring: 5_000 });
    store.track(run);
    for (let batch = 0; batch < 3; batch += 1) {
      const text = Array.from({ length: 2_000 }, (_, index) => `b${batch} line ${index} ${"x".repeat(index % 50)}`).join("\n") + "\n";
      const bytes = Buffer.from(text);
      const starts = new Int32Array(2_000);
      const ends = new Int32Array(2_000);
      let at = 0;
      for (let index = 0; index < 2_000; index += 1) {
        starts[index] = at;
        ends[index] = bytes.indexOf(0x0a, at);
        at = ends[index]! + 1;
      }
      run.appendBatch("stdout", bytes, starts, ends, 0, 1_000);
      run.ring.push("stderr", `warning ${batch}`);
      run.appendBatch("stdout", bytes, starts, ends, 1_000, 2_000);
      await settle(store);
    }
    finish(run);
    store.ended(run);
    await settle(store);
    const restored = executionFromStore((await store.load(run.id))!);
    expect(restored.ring.linesDropped).toBe(run.ring.linesDropped);
    expect(restored.ring.read(0, 10_000)).toEqual(run.ring.read(0, 10_000));
  });

  it("stores a running flood's newest 10,000 lines each batch, and every line its ring kept once it ends", async () => {
    const store = openStore(stateDir());
    const run = execution(0, { ring: 100_000 });
    store.track(run);
    for (let index = 0; index < 25_000; index += 1) run.ring.push("stdout", `l${index}`);
    await settle(store);
    const running = executionFromStore((await store.load(run.id))!);
    expect(running.ring.linesDropped).toBe(15_000);
    expect(running.ring.read(15_000, 20_000)).toEqual(run.ring.read(15_000, 20_000));
    for (let index = 25_000; index < 26_000; index += 1) run.ring.push("stdout", `l${index}`);
    finish(run);
    store.ended(run);
    await settle(store);
    const ended = executionFromStore((await store.load(run.id))!);
    expect(ended.ring.linesDropped).toBe(0);
    expect(ended.ring.read(0, 30_000)).toEqual(run.ring.read(0, 30_000));
  });

  it("creates its directory 0700 and its files 0600", async () => {
    const directory = stateDir();
    const store = openStore(directory);
    const run = execution(10);
    store.track(run);
    await settle(store);
    expect(statSync(directory).mode & 0o777).toBe(0o700);
    for (const file of readdirSync(directory)) expect({ file, mode: statSync(join(directory, file)).mode & 0o777 }).toEqual({ file, mode: 0o600 });
    expect(readdirSync(directory)).toEqual(expect.arrayContaining(["executions.db", "executions.db-wal"]));
  });

  it("lists newest first by owner, pages, and leaves out the ids it is told are live", async () => {
    const store = openStore(stateDir());
    const runs = [0, 1, 2, 3].map((index) => execution(1, { startedAt: 1_000 + index, owner: index === 2 ? "bob" : "local" }));
    for (const run of runs) {
      store.track(run);
      finish(run);
    }
    await settle(store);
    const ids = (page: { records: { id: string }[] }): string[] => page.records.map((record) => record.id);
    expect(ids(await store.list("local", { offset: 0, limit: 10, exclude: [] }))).toEqual([runs[3]!.id, runs[1]!.id, runs[0]!.id]);
    expect(await store.list("local", { offset: 1, limit: 1, exclude: [runs[3]!.id] })).toMatchObject({ total: 2, records: [{ id: runs[0]!.id }] });
    expect(ids(await store.list(null, { offset: 0, limit: 10, exclude: [] }))).toHaveLength(4);
  });

  it("forgets a run: its record and output are gone, and a later batch does not bring it back", async () => {
    const store = openStore(stateDir());
    const run = execution(50);
    store.track(run);
    await settle(store);
    await store.forget(run.id);
    run.ring.push("stdout", "after forget");
    finish(run);
    store.ended(run);
    await settle(store);
    expect(await store.load(run.id)).toBeNull();
  });

  it("marks a run left running by a process that is gone as interrupted, with the lines it kept", async () => {
    const directory = stateDir();
    const first = openStore(directory);
    const run = execution(30);
    first.track(run);
    await settle(first);
    await first.close();
    // The row names this process as its server: make it name a dead one, as after a SIGKILL.
    const db = new Database(join(directory, "executions.db"));
    db.prepare("UPDATE executions SET server = ? WHERE id = ?").run("some-other-boot:1:1", run.id);
    db.close();
    const second = openStore(directory);
    const restored = executionFromStore((await second.load(run.id))!);
    expect(restored.status).toBe("interrupted");
    expect(restored.finished).toBe(true);
    expect(restored.ring.read(0, 100)).toEqual(run.ring.read(0, 100));
  });

  it("deletes runs past the retention age, keeps runs a saved session holds", async () => {
    const directory = stateDir();
    let now = 1_000_000;
    const store = openStore(directory, { retentionMs: 60_000, now: () => now });
    const old = execution(5, { startedAt: now - 200_000 });
    const pinned = execution(5, { startedAt: now - 200_000 });
    const young = execution(5, { startedAt: now - 1_000 });
    for (const run of [old, pinned, young]) {
      store.track(run);
      finish(run);
    }
    await settle(store);
    await store.saveSession({ ownerId: "local", name: "keep", note: null, createdAt: now, updatedAt: now, runs: 0, items: [{ program: pinned.program, timeoutSeconds: 5, executionId: pinned.id }] });
    now += 1;
    store.sweep();
    await settle(store);
    expect(await store.load(old.id)).toBeNull();
    expect(await store.load(pinned.id)).not.toBeNull();
    expect(await store.load(young.id)).not.toBeNull();
  });

  it("deletes the oldest runs once the file passes its size cap", async () => {
    const store = openStore(stateDir(), { maxBytes: 2 * 1024 * 1024 });
    const runs = Array.from({ length: 12 }, (_, index) => execution(20_000, { ring: 20_000, startedAt: Date.now() - 1_000 + index }));
    for (const run of runs) {
      store.track(run);
      finish(run);
      await settle(store);
    }
    store.sweep();
    await settle(store);
    const kept = await Promise.all(runs.map(async (run) => (await store.load(run.id)) !== null));
    expect(kept.at(-1)).toBe(true);
    expect(kept[0]).toBe(false);
    // Oldest first: once one is kept, every later one is too.
    expect(kept.indexOf(true)).toBeGreaterThan(0);
    expect(kept.slice(kept.indexOf(true)).every(Boolean)).toBe(true);
  });

  it("moves a file that is not a database aside with a timestamp, starts a fresh one, and says so", async () => {
    const directory = stateDir();
    openStore(directory);
    await settle(stores[0]!);
    await stores.pop()!.close();
    writeFileSync(join(directory, "executions.db"), "this is not a database, it is a few bytes of text long enough to have a header".repeat(4));
    const store = openStore(directory);
    const run = execution(3);
    store.track(run);
    finish(run);
    await settle(store);
    expect(await store.load(run.id)).not.toBeNull();
    expect(store.notice()).toMatch(/was corrupt .* moved to .*executions\.db\.corrupt-\d{4}-\d\d-\d\dT/);
    expect(readdirSync(directory).filter((file) => file.startsWith("executions.db.corrupt-"))).toHaveLength(1);
  });

  it("treats a file cut short as corrupt", async () => {
    const directory = stateDir();
    const first = openStore(directory);
    const runs = Array.from({ length: 20 }, () => execution(2_000));
    for (const run of runs) {
      first.track(run);
      finish(run);
    }
    await settle(first);
    await first.close();
    expect(existsSync(join(directory, "executions.db-wal"))).toBe(false);
    const file = join(directory, "executions.db");
    truncateSync(file, Math.floor(statSync(file).size / 2));
    const store = openStore(directory);
    expect(await store.list(null, { offset: 0, limit: 10, exclude: [] })).toMatchObject({ total: 0, records: [] });
    expect(store.notice()).toMatch(/cut short/);
    expect(store.health()).toBeNull();
  });

  it("reports a directory it cannot create as a warning, never a throw, and writes once it can", async () => {
    const parent = mkdtempSync(join(tmpdir(), "store-unit-"));
    directories.push(parent);
    const blocker = join(parent, "file");
    writeFileSync(blocker, "");
    const store = openStore(join(blocker, "state"));
    const run = execution(3);
    store.track(run);
    await settle(store);
    expect(store.health()).toMatch(/could not be written \(.*(ENOTDIR|EEXIST)/);
    expect(run.storeWarning).toBe(store.health());
    rmSync(blocker);
    finish(run);
    store.ended(run);
    await settle(store);
    expect(store.health()).toBeNull();
    expect(run.storeWarning).toBeNull();
    expect((await store.load(run.id))?.record.status).toBe("completed");
  });
});

describe("a store whose thread cannot run SQLite", () => {
  it("keeps executions in memory only and says why in every result's warning, without throwing", async () => {
    const directory = mkdtempSync(join(tmpdir(), "store-unit-"));
    directories.push(directory);
    // What the store thread reports when better-sqlite3 was built for another Node.
    const workerFile = join(directory, "failing-worker.mjs");
    writeFileSync(workerFile, 'import { parentPort } from "node:worker_threads";\nparentPort.postMessage({ ready: false, message: "The module was compiled against a different Node.js version" });\n');
    const { WorkerBackend } = await import("../../src/storage/backend.js");
    const backend = new WorkerBackend({ directory, retentionMs: 1, maxBytes: 1, busyTimeoutMs: 1 }, pathToFileURL(workerFile));
    const store = new SqliteStore(backend, join(directory, "executions.db"), createLogger("silent"));
    stores.push(store);
    expect(await backend.ready).toMatch(/different Node\.js version/);
    const run = execution(5);
    store.track(run);
    await settle(store);
    expect(store.health()).toMatch(/^the execution store .* is unavailable \(The module was compiled against a different Node\.js version\): executions are kept in memory only$/);
    expect(await store.load(run.id)).toBeNull();
    expect(await store.list(null, { offset: 0, limit: 5, exclude: [] })).toMatchObject({ total: 0, records: [] });
  });
});
