import { spawn } from "node:child_process";
import { closeSync, fstatSync, readlinkSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { FifoPool, type FifoPair } from "../../src/bpftrace/fifo-pool.js";
import { fifoChannel } from "../../src/bpftrace/output-channel.js";
import { createLogger } from "../../src/logger.js";

const logger = createLogger("silent");

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** Runs `node -e script` with `pair`'s write end as its stdout; resolves with its exit code. */
function writeThrough(pair: FifoPair, script: string): Promise<number | null> {
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", pair.writeFd, "ignore"] });
  return new Promise((resolve) => child.once("exit", resolve));
}

describe("FifoPool", () => {
  const pools: FifoPool[] = [];
  afterEach(() => pools.splice(0).forEach((pool) => pool.close()));

  it("hands out anonymous FIFOs: both ends open, the name already removed", async () => {
    const pool = new FifoPool(2, logger);
    pools.push(pool);
    const pair = await pool.take();
    expect(pair).not.toBeNull();
    const { readFd, writeFd } = pair as FifoPair;
    expect(fstatSync(readFd).isFIFO()).toBe(true);
    expect(fstatSync(writeFd).isFIFO()).toBe(true);
    expect(readlinkSync(`/proc/self/fd/${writeFd}`)).toMatch(/\(deleted\)$/);
    const other = await pool.take();
    expect(other?.readFd).not.toBe(readFd);
  });

  it("closes its spare FIFOs on close and gives none afterwards", async () => {
    const pool = new FifoPool(3, logger);
    pool.warm();
    const first = (await pool.take()) as FifoPair;
    // Let the background refill finish, so there are spares to close.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const spares = (pool as unknown as { spare: FifoPair[] }).spare.map((pair) => [pair.readFd, pair.writeFd]).flat();
    expect(spares.length).toBeGreaterThan(0);
    pool.close();
    expect(spares.filter(isOpen)).toEqual([]);
    expect(await pool.take()).toBeNull();
    for (const fd of [first.readFd, first.writeFd]) expect(isOpen(fd)).toBe(true);
  });

  it("answers null (ordinary pipes) when mkfifo cannot run", async () => {
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = "/nonexistent-directory-for-this-test";
    try {
      const pool = new FifoPool(2, logger);
      pools.push(pool);
      expect(await pool.take()).toBeNull();
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
  });
});

describe("fifoChannel", () => {
  const pools: FifoPool[] = [];
  afterEach(() => pools.splice(0).forEach((pool) => pool.close()));

  async function channelWith(script: string): Promise<{ text: string; chunks: number; exitCode: number | null }> {
    const pool = new FifoPool(1, logger);
    pools.push(pool);
    const pair = (await pool.take()) as FifoPair;
    const exited = writeThrough(pair, script);
    // As the host does: the child has its copy, the parent's must go or the output never ends.
    closeSync(pair.writeFd);
    const channel = fifoChannel(pair.readFd);
    // Data written before pump() is called must not be lost.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const received: Buffer[] = [];
    await channel.pump((chunk) => received.push(Buffer.from(chunk)));
    channel.destroy();
    return { text: Buffer.concat(received).toString("utf8"), chunks: received.length, exitCode: await exited };
  }

  it("delivers everything the writer wrote, then ends when the writer exits", async () => {
    const result = await channelWith(`for (let i = 0; i < 20000; i += 1) require("fs").writeSync(1, "line " + i + "\\n");`);
    expect(result.exitCode).toBe(0);
    const lines = result.text.split("\n");
    expect(lines.length).toBe(20001);
    expect(lines[19999]).toBe("line 19999");
  });

  it("reads a stream of small writes in batches, not one wake-up per write", async () => {
    // One line every 0.2 ms for 400 ms: a reader woken per write sees about 2000 chunks; one that
    // waits 5 ms after emptying the pipe sees at most about 80.
    const script = `const fs = require("fs"); const end = Date.now() + 400; let i = 0;
      while (Date.now() < end) { fs.writeSync(1, "x" + (i++) + "\\n"); const t = process.hrtime.bigint(); while (process.hrtime.bigint() - t < 200000n); }
      fs.writeSync(2, String(i));`;
    const result = await channelWith(script);
    const lines = result.text.split("\n").filter(Boolean);
    expect(lines.length).toBeGreaterThan(500);
    expect(result.chunks).toBeLessThan(lines.length / 4);
  });
});
