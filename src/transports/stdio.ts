// The MCP stdio transport, with a cap on the size of one message. The SDK's own (v1) buffers a line
// whole and, past 10 MiB, closes itself for good: one oversized message ended the session and every
// trace with it. Here a line over the cap is skipped as it arrives (never buffered), answered with a
// JSON-RPC error, and the session goes on.
import process from "node:process";
import type { Readable, Writable } from "node:stream";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { deserializeMessage, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

/** JSON-RPC "Invalid Request": the answer to a message over the size cap. */
export const MESSAGE_TOO_LARGE_CODE = -32600;
const NEWLINE = 0x0a;
/** Bytes of an oversized line kept to find its id: enough for `{"jsonrpc":"2.0","id":"<256 chars>",`. */
const ID_PREFIX_BYTES = 512;
// Only an id that is the object's first key (or follows "jsonrpc") is certainly the top-level one.
const LEADING_ID = /^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*("(?:[^"\\]|\\.){0,256}"|-?\d{1,15})\s*[,}]/;

export interface StdioTransportOptions {
  /** Largest message (one stdin line, without its newline) accepted, in bytes. */
  maxMessageBytes: number;
  /** Called for each message skipped for its size (to log it; the client is answered already). */
  onOversized?: (bytes: number, id: string | number | null) => void;
  stdin?: Readable;
  stdout?: Writable;
}

/** The id of an oversized request when its first bytes name it unambiguously, else null. */
export function leadingId(prefix: Buffer): string | number | null {
  const match = LEADING_ID.exec(prefix.toString("utf8"));
  if (!match?.[1]) return null;
  try {
    return JSON.parse(match[1]) as string | number;
  } catch {
    return null;
  }
}

/** Newline-delimited JSON-RPC over stdin/stdout, as the SDK's StdioServerTransport, with messages capped in size. */
export class StdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private readonly stdin: Readable;
  private readonly stdout: Writable;
  private started = false;
  /** The pieces of the line being read, while it is within the cap. */
  private pieces: Buffer[] = [];
  private pendingBytes = 0;
  /** Set while skipping an oversized line: its size so far and its first bytes (for the id). */
  private skipping: { bytes: number; prefix: Buffer } | null = null;

  constructor(private readonly options: StdioTransportOptions) {
    this.stdin = options.stdin ?? process.stdin;
    this.stdout = options.stdout ?? process.stdout;
  }

  private readonly onData = (chunk: Buffer): void => {
    let position = 0;
    for (let newline = chunk.indexOf(NEWLINE); newline !== -1; newline = chunk.indexOf(NEWLINE, position)) {
      this.take(chunk, position, newline);
      this.endLine();
      position = newline + 1;
    }
    if (position < chunk.length) this.take(chunk, position, chunk.length);
  };

  private readonly onStreamError = (error: Error): void => {
    this.onerror?.(error);
  };

  async start(): Promise<void> {
    if (this.started) throw new Error("StdioTransport already started");
    this.started = true;
    this.stdin.on("data", this.onData);
    this.stdin.on("error", this.onStreamError);
  }

  /** Adds `chunk[start, end)` to the current line, or to the count of one being skipped. */
  private take(chunk: Buffer, start: number, end: number): void {
    const length = end - start;
    if (this.skipping) {
      this.skipping.bytes += length;
      return;
    }
    if (this.pendingBytes + length > this.options.maxMessageBytes) {
      const prefix = Buffer.concat([...this.pieces, chunk.subarray(start, Math.min(end, start + ID_PREFIX_BYTES))]).subarray(0, ID_PREFIX_BYTES);
      this.skipping = { bytes: this.pendingBytes + length, prefix: Buffer.from(prefix) };
      this.pieces = [];
      this.pendingBytes = 0;
      return;
    }
    // Copied: the stream may hand out views of a buffer it reuses.
    if (length > 0) this.pieces.push(Buffer.from(chunk.subarray(start, end)));
    this.pendingBytes += length;
  }

  private endLine(): void {
    const skipped = this.skipping;
    if (skipped) {
      this.skipping = null;
      this.answerOversized(skipped.bytes, leadingId(skipped.prefix));
      return;
    }
    const line = Buffer.concat(this.pieces, this.pendingBytes).toString("utf8").replace(/\r$/, "");
    this.pieces = [];
    this.pendingBytes = 0;
    let message: JSONRPCMessage;
    try {
      message = deserializeMessage(line);
    } catch (error) {
      // As the SDK's transport does: a line that is not JSON-RPC is reported, not answered.
      this.onerror?.(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.onmessage?.(message);
  }

  private answerOversized(bytes: number, id: string | number | null): void {
    const { maxMessageBytes } = this.options;
    const answer = {
      jsonrpc: "2.0",
      id,
      error: {
        code: MESSAGE_TOO_LARGE_CODE,
        message: `Message too large: ${bytes} bytes, over this server's limit of ${maxMessageBytes} bytes (BPFTRACE_MCP_MAX_MESSAGE_BYTES); it was not read. Send a smaller request.`,
        data: { bytes, limit: maxMessageBytes },
      },
    };
    this.stdout.write(`${JSON.stringify(answer)}\n`);
    this.options.onOversized?.(bytes, id);
  }

  async close(): Promise<void> {
    this.stdin.off("data", this.onData);
    this.stdin.off("error", this.onStreamError);
    if (this.stdin.listenerCount("data") === 0) this.stdin.pause();
    this.pieces = [];
    this.pendingBytes = 0;
    this.skipping = null;
    this.onclose?.();
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve) => {
      if (this.stdout.write(serializeMessage(message))) resolve();
      else this.stdout.once("drain", resolve);
    });
  }
}
