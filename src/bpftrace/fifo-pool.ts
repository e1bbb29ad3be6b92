import { execFile } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../logger.js";
import { SAFE_PATH } from "./command.js";

/** Both ends of one FIFO; its name is already gone from the file system. */
export interface FifoPair {
  readFd: number;
  writeFd: number;
}

const MKFIFO_TIMEOUT_MS = 5_000;

/**
 * Keeps a few FIFOs ready to become bpftrace's stdout, so starting a trace never waits for one.
 *
 * Why not the pipe Node gives a child: that is a unix socketpair, which charges each write (bpftrace
 * writes once per line) about 700 bytes of buffer, so it is full after ~300 lines and bpftrace stalls
 * (and drops events) whenever the server is a millisecond late. A real pipe packs lines into 64 KiB,
 * which lets the server read in batches. Node cannot make an anonymous pipe, so `mkfifo` makes named
 * ones in a private directory, both ends are opened, and the names are removed at once.
 */
export class FifoPool {
  private readonly spare: FifoPair[] = [];
  private filling: Promise<void> | null = null;
  /** Set once making FIFOs failed: every later child uses an ordinary pipe. */
  private unavailable = false;
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly logger: Logger,
  ) {}

  /** Starts making FIFOs in the background. */
  warm(): void {
    this.topUp();
  }

  /** A FIFO for one child (the caller owns both fds), or null when none can be made here. */
  async take(): Promise<FifoPair | null> {
    if (this.spare.length === 0) {
      this.topUp();
      await this.filling;
    }
    const pair = this.spare.pop() ?? null;
    // Replaced in the background: the pool stays at its size, so the server's fd count is steady.
    this.topUp();
    return pair;
  }

  /** Closes the spare FIFOs; later takes get none. */
  close(): void {
    this.closed = true;
    for (const pair of this.spare.splice(0)) closePair(pair);
  }

  private topUp(): void {
    if (this.filling !== null || this.unavailable || this.closed || this.spare.length >= this.size) return;
    this.filling = makeFifos(this.size - this.spare.length)
      .then(
        (pairs) => {
          if (this.closed) pairs.forEach(closePair);
          else this.spare.push(...pairs);
        },
        (error: unknown) => {
          this.unavailable = true;
          this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, "cannot make FIFOs for bpftrace output: using ordinary pipes");
        },
      )
      .finally(() => {
        this.filling = null;
        // Takes made while this batch was being made.
        this.topUp();
      });
  }
}

async function makeFifos(count: number): Promise<FifoPair[]> {
  const directory = mkdtempSync(join(tmpdir(), "bpftrace-mcp-"));
  const pairs: FifoPair[] = [];
  try {
    const paths = Array.from({ length: count }, (_, index) => join(directory, `out${index}`));
    await new Promise<void>((resolve, reject) => {
      execFile("mkfifo", ["-m", "600", "--", ...paths], { env: { PATH: SAFE_PATH }, timeout: MKFIFO_TIMEOUT_MS }, (error) => (error ? reject(error) : resolve()));
    });
    for (const path of paths) {
      // The read end first, non-blocking, so opening the write end (blocking, as bpftrace expects its stdout) returns at once.
      const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
      try {
        pairs.push({ readFd, writeFd: openSync(path, constants.O_WRONLY) });
      } catch (error) {
        closeSync(readFd);
        throw error;
      }
    }
    return pairs;
  } catch (error) {
    pairs.forEach(closePair);
    throw error;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

function closePair(pair: FifoPair): void {
  for (const fd of [pair.readFd, pair.writeFd]) {
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
  }
}
