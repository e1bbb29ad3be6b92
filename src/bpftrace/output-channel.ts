import { Socket, type OnReadOpts, type SocketConstructorOpts } from "node:net";
import type { Readable } from "node:stream";

/** One output pipe of a child, read in whole chunks. */
export interface OutputChannel {
  /** Passes every chunk read to `onChunk` (the buffer may be reused once it returns); resolves at the end of the output. */
  pump(onChunk: (chunk: Buffer) => void): Promise<void>;
  /** Stops reading and closes the pipe. */
  destroy(): void;
}

/** A channel over an ordinary Node stream (the child's stderr, or stdout when no FIFO could be made). */
export function streamChannel(stream: Readable | null | undefined): OutputChannel {
  return {
    pump: (onChunk) =>
      new Promise((resolve) => {
        if (!stream) {
          resolve();
          return;
        }
        stream.on("data", onChunk);
        stream.once("end", resolve);
        stream.once("close", resolve);
        stream.once("error", () => resolve());
      }),
    destroy: () => stream?.destroy(),
  };
}

const READ_BUFFER_BYTES = 64 * 1024;
// While output keeps coming (a read less than 2 × BATCH_MS after the previous one), wait this long
// after each read before the next: a flooding trace is then read in a few hundred large chunks per
// second instead of one wake-up per line. Output after a quiet spell (the first line of a trace, a
// line a second) is read the moment it is written.
const BATCH_MS = 5;
// A read that brought at least this much means the pipe fills fast: read again as soon as the event
// loop has served whatever else is waiting (requests, other traces), so bpftrace never blocks for long.
const FAST_READ_BYTES = READ_BUFFER_BYTES / 4;

/** A channel over the read end of a FIFO (see FifoPool), read into one reused buffer, in batches. */
export function fifoChannel(readFd: number): OutputChannel {
  const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  // Reading starts with the socket: anything read before pump() is called is copied and kept for it.
  const early: Buffer[] = [];
  let deliver: (chunk: Buffer) => void = (chunk) => early.push(Buffer.from(chunk));
  let lastReadAt = Number.NEGATIVE_INFINITY;
  let resumeTimer: NodeJS.Timeout | null = null;
  let resumeImmediate: NodeJS.Immediate | null = null;
  const resume = (): void => {
    resumeTimer = null;
    resumeImmediate = null;
    if (!socket.destroyed) socket.resume();
  };
  // `onread` (one reused buffer, pause by returning false) is accepted by the constructor since Node 12; @types/node only lists it for connect().
  const options: SocketConstructorOpts & { onread: OnReadOpts } = {
    fd: readFd,
    readable: true,
    writable: false,
    onread: {
      buffer,
      callback: (bytes: number, chunk: Uint8Array): boolean => {
        deliver(Buffer.from(chunk.buffer, chunk.byteOffset, bytes));
        const now = performance.now();
        const flowing = now - lastReadAt < 2 * BATCH_MS;
        lastReadAt = now;
        // Pause (false) after a big read even so: libuv would otherwise read a fast pipe up to 32
        // times in a row, and the event loop would serve no request until that backlog was processed.
        if (bytes >= FAST_READ_BYTES) resumeImmediate = setImmediate(resume);
        else if (flowing) resumeTimer = setTimeout(resume, BATCH_MS);
        else return true;
        return false;
      },
    },
  };
  const socket = new Socket(options);
  const ended = new Promise<void>((resolve) => {
    socket.once("end", resolve);
    socket.once("close", resolve);
    socket.once("error", () => resolve());
  });
  return {
    pump: (onChunk) => {
      for (const chunk of early.splice(0)) onChunk(chunk);
      deliver = onChunk;
      socket.resume();
      return ended;
    },
    destroy: () => {
      if (resumeTimer !== null) clearTimeout(resumeTimer);
      if (resumeImmediate !== null) clearImmediate(resumeImmediate);
      socket.destroy();
    },
  };
}
